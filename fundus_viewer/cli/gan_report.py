"""``fundus-viewer gan-report``: Patho-GAN against its baseline on held-out vessel maps, or on every
photo of another data set (one the generators never saw)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer gan-report",
        description="(a) L1 distance between the heat maps of synthetic and real photos, (b) FID and KID in the "
        "classifier's feature space, (c) the classifier's P(glaucoma) on synthetic photos of glaucoma references, "
        "(d) the share of synthetic photos in which the cup/disc segmenter finds a disc, their vCDR against the "
        "reference's, and the share with a round field of view. On the training manifest: the vessel maps each "
        "generator held out (the same for both when trained with one seed); on other data (none of its photos in "
        "the generators' split): every photo's vessel map.",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="the manifest the generators were trained on, or any other manifest / class folders",
    )
    parser.add_argument(
        "--label",
        choices=("glaucoma", "normal", "all"),
        help="which photos of --data (default: those the generator learnt from)",
    )
    parser.add_argument("--cup-disc", metavar="CKPT", help="cup/disc segmenter for (d); default: the bundled one")
    parser.add_argument(
        "--models", nargs="+", metavar="CKPT", help="generators (default: the bundled Patho-GAN and baseline)"
    )
    parser.add_argument("--classifier", metavar="CKPT", help="default: the bundled classifier")
    parser.add_argument("--vessel-cache", help="cached vessel maps (as fundus-train gan wrote them)")
    parser.add_argument("--samples", type=int, default=4, help="synthetic photos per held-out vessel map")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (none where stderr is not a terminal)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    import numpy as np

    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter
    from fundus_viewer.core.device import select_device
    from fundus_viewer.core.gan.checkpoint import default_generator_path, load_generator
    from fundus_viewer.core.gan.report import evaluate_generator, real_reference, reference_vcdr
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.progress import Bar
    from trainer.gan_data import pair_key, photo_pairs

    device = select_device(args.device)
    paths = args.models or [default_generator_path("patho-gan"), default_generator_path("baseline")]
    generators = [(Path(p).name, load_generator(p, device=device)) for p in paths]
    classifier = load_classifier(args.classifier, device=device)
    size = generators[0][1].spec.size
    if len({g.spec.size for _, g in generators}) > 1:
        print(
            "gan-report: error: the generators make photos of different sizes; report them one at a time",
            file=sys.stderr,
        )
        return 2
    training = generators[0][1].spec.training
    cup_disc = load_cup_disc_segmenter(args.cup_disc, device=device)
    cache = Path(args.vessel_cache) if args.vessel_cache else Path("gan-report-vessel-cache")
    pairs = photo_pairs(
        args.data,
        cache,
        size,
        classifier.spec.disc_diameters,
        args.label or training.get("label", "glaucoma"),
        device=device,
        log=lambda *a, **k: None,
        cup_disc_model=cup_disc if any(g.spec.disc_cup for _, g in generators) else None,
        progress=Bar("vessel maps", not args.no_progress),
    )
    # photos are matched by content where the generator recorded digests (names recur across data sets),
    # else by file name (generators trained before digests were kept)
    keyed = "split_digests" in training
    split = training.get("split_digests" if keyed else "split", {})
    key = pair_key if keyed else (lambda p: p.name)
    held_out, trained_on = set(split.get("test", [])), set(split.get("train", []))
    test = [p for p in pairs if key(p) in held_out]
    label = args.label or training.get("label", "glaucoma")
    kind = "" if label == "all" else f"{label} "
    if test:
        scope = f"{len(test)} vessel maps the generators held out"
    elif not any(key(p) in trained_on for p in pairs):
        test, held_out = pairs, set()
        scope = (
            f"the {len(test)} {kind}full-field photos' vessel maps of --data (none of them in the generators' split)"
        )
    else:
        print(
            "gan-report: error: --data holds photos the generators trained on but none they held out: "
            "give their training manifest, or data they never saw",
            file=sys.stderr,
        )
        return 2
    if len(pairs) < 4:
        print(f"gan-report: error: {len(pairs)} photo(s) in --data; FID and KID need at least 4", file=sys.stderr)
        return 2
    shown = not args.no_progress
    reference = real_reference(classifier, pairs, size, cup_disc, Bar("real photos", shown))
    references = reference_vcdr(cup_disc, test, Bar("reference vCDR", shown))
    reports = [
        evaluate_generator(
            name,
            g,
            classifier,
            test,
            pairs,
            args.samples,
            cup_disc_model=cup_disc,
            references=references,
            progress=Bar(name, shown),
        )
        for name, g in generators
    ]
    print(f"{scope} x {args.samples} samples; real set: {len(pairs)} photos")
    print(
        f"{'generator':<28}{'lambda':>8}{'heat L1 (mean +- SD)':>24}{'FID':>9}{'KID x1e3':>14}{'P(glaucoma)':>13}"
        f"{'disc found':>12}{'round FOV':>11}{'vCDR MAE':>10}"
    )
    for r in reports:
        print(
            f"{r.name:<28}{r.lam:>8g}{r.heat_l1_mean:>14.4f} +- {r.heat_l1_sd:.4f}{r.fid:>9.2f}"
            f"{1e3 * r.kid:>9.2f} +- {1e3 * r.kid_sd:.2f}{r.p_glaucoma:>13.3f}"
            f"{100 * r.disc_found:>11.0f}%{100 * r.fov_round:>10.0f}%{r.vcdr_mae:>10.3f}"
        )
    print(
        f"{'real photos (reference)':<28}{'':>8}{'':>24}{reference['fid_half_vs_half']:>9.2f}"
        f"{1e3 * reference['kid_half_vs_half']:>9.2f}{'':>5}{reference['p_glaucoma']:>13.3f}"
        f"{100 * reference['disc_found']:>11.0f}%{100 * reference['fov_round']:>10.0f}%"
    )
    print(
        "(real reference: FID / KID of one half of the real photos against the other; P of the real glaucoma photos; "
        "vCDR MAE over the synthetic photos with a disc found, against their reference photo's, "
        f"which has one on {sum(np.isfinite(references))} of {len(test)})"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "generators": [asdict(r) for r in reports],
                    "real": reference,
                    "held_out": sorted(held_out),
                    "scope": scope,
                    "samples": args.samples,
                },
                indent=1,
            )
        )
    return 0
