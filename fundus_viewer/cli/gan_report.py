"""``fundus-viewer gan-report``: Patho-GAN against its baseline on held-out vessel maps."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer gan-report",
        description="(a) L1 distance between the heat maps of synthetic and real photos, (b) FID and KID in the "
        "classifier's feature space, (c) the classifier's P(glaucoma) on synthetic photos of glaucoma references; "
        "on the vessel maps each generator held out in training (the same for both when trained with one seed).",
    )
    parser.add_argument("--data", required=True, help="the manifest the generators were trained on")
    parser.add_argument("--models", nargs="+", metavar="CKPT", help="generators (default: the bundled Patho-GAN and baseline)")
    parser.add_argument("--classifier", metavar="CKPT", help="default: the bundled classifier")
    parser.add_argument("--vessel-cache", help="cached vessel maps (as fundus-train gan wrote them)")
    parser.add_argument("--samples", type=int, default=4, help="synthetic photos per held-out vessel map")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--device", default="auto")
    return parser


def run(args) -> int:
    from dataclasses import asdict

    from fundus_viewer.core.device import select_device
    from fundus_viewer.core.gan.checkpoint import default_generator_path, load_generator
    from fundus_viewer.core.gan.report import evaluate_generator, real_reference
    from fundus_viewer.core.models.checkpoint import load_classifier
    from trainer.gan_data import photo_pairs

    device = select_device(args.device)
    paths = args.models or [default_generator_path("patho-gan"), default_generator_path("baseline")]
    generators = [(Path(p).name, load_generator(p, device=device)) for p in paths]
    classifier = load_classifier(args.classifier, device=device)
    size = generators[0][1].spec.size
    training = generators[0][1].spec.training
    cache = Path(args.vessel_cache) if args.vessel_cache else Path("gan-report-vessel-cache")
    pairs = photo_pairs(args.data, cache, size, classifier.spec.disc_diameters, training.get("label", "glaucoma"), device=device, log=lambda *a, **k: None)
    held_out = set(training.get("split", {}).get("test", []))
    test = [p for p in pairs if p.name in held_out]
    if not test:
        print("gan-report: error: none of the generator's held-out photos is in --data", file=sys.stderr)
        return 2
    reference = real_reference(classifier, pairs, size)
    reports = [evaluate_generator(name, g, classifier, test, pairs, args.samples) for name, g in generators]
    print(f"{len(test)} held-out vessel maps x {args.samples} samples; real set: {len(pairs)} photos")
    print(f"{'generator':<28}{'lambda':>8}{'heat L1 (mean +- SD)':>24}{'FID':>9}{'KID x1e3':>14}{'P(glaucoma)':>13}")
    for r in reports:
        print(f"{r.name:<28}{r.lam:>8g}{r.heat_l1_mean:>14.4f} +- {r.heat_l1_sd:.4f}{r.fid:>9.2f}{1e3 * r.kid:>9.2f} +- {1e3 * r.kid_sd:.2f}{r.p_glaucoma:>13.3f}")
    print(f"{'real photos (reference)':<28}{'':>8}{'':>24}{reference['fid_half_vs_half']:>9.2f}{1e3 * reference['kid_half_vs_half']:>9.2f}{'':>5}{reference['p_glaucoma']:>13.3f}")
    print("(real reference: FID / KID of one half of the real photos against the other; P of the real glaucoma photos)")
    if args.json:
        Path(args.json).write_text(json.dumps({"generators": [asdict(r) for r in reports], "real": reference, "held_out": sorted(held_out), "samples": args.samples}, indent=1))
    return 0
