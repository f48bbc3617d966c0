"""``fundus-viewer classify IMAGE...``: glaucoma probability per photo."""

from __future__ import annotations

import argparse
import json
import sys

from fundus_viewer.cli.common import add_model_options, open_visualizer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-viewer classify", description="Glaucoma probability per photo.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    add_model_options(parser)
    parser.add_argument("--cup-disc-model", help="optic disc / cup segmenter for the vertical cup-to-disc ratio; default: the bundled one")
    parser.add_argument("--no-cup-disc", action="store_true", help="skip the cup-to-disc ratio")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    return parser


def run(args) -> int:
    import torch

    from fundus_viewer.core.cup_disc import default_cup_disc_path, load_cup_disc_segmenter, measure_cup_disc
    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.ood import pooled_features

    visualizer = open_visualizer(args)
    model = visualizer.model
    segmenter = None
    if not args.no_cup_disc and (args.cup_disc_model or default_cup_disc_path().exists()):
        segmenter = load_cup_disc_segmenter(args.cup_disc_model, device=visualizer.device)
    rows, failed = [], 0
    for path in args.images:
        try:
            photo, _, x = visualizer.prepare(path)
        except FundusViewerError as exc:
            failed += 1
            rows.append({"path": path, "error": str(exc)})
            print(f"error: {exc}", file=sys.stderr)
            continue
        with torch.no_grad(), pooled_features(model) as pooled:
            probability = float(model.glaucoma_probability(model(x))[0])
        ood = model.ood_scores(pooled.get("features"))
        label = model.spec.class_names[model.glaucoma_index] if model.calls_glaucoma(probability) else _other_class(model)
        row = {"path": path, "probability_glaucoma": round(probability, 6), "prediction": label, "threshold": round(model.calibration.threshold, 6)}
        if ood:
            row["ood_score"], row["ood_threshold"], row["ood_flag"] = round(ood[0].score, 6), round(ood[0].threshold, 6), ood[0].flagged
        if segmenter is not None:
            measured = measure_cup_disc(segmenter, photo)
            # no disc found: no ratio, rather than a 0.00 that reads as a healthy disc
            row["vertical_cdr"] = round(measured.vcdr, 3) if measured.disc is not None else None
            row["disc_found"] = measured.disc is not None
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"# {model.calibration.says()}", file=sys.stderr)
        for row in rows:
            if "error" not in row:
                vcdr = "" if "vertical_cdr" not in row else "  vCDR --  (no disc found)" if row["vertical_cdr"] is None else f"  vCDR {row['vertical_cdr']:.2f}"
                ood = ("  OOD: unlike the training photos" if row["ood_flag"] else "  OOD: ok") if "ood_flag" in row else ""
                print(f"{row['probability_glaucoma']:.4f}  {row['prediction']:<9}{vcdr}{ood} {row['path']}")
    return 1 if failed else 0


def _other_class(model) -> str:
    names = [n for i, n in enumerate(model.spec.class_names) if i != model.glaucoma_index]
    return names[0] if names else "normal"
