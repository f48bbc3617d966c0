"""``fundus-viewer classify IMAGE...``: glaucoma probability per photo; ``--data`` for a whole data set."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from fundus_viewer.cli.common import (
    add_cup_disc_options,
    add_data_options,
    add_model_options,
    check_photos_or_data,
    cup_disc_wanted,
    open_visualizer,
)

if TYPE_CHECKING:
    import torch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-viewer classify", description="Glaucoma probability per photo.")
    parser.add_argument("images", nargs="*", metavar="IMAGE")
    add_model_options(parser)
    add_cup_disc_options(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--out", metavar="DIR", help="with --data: where summary.csv goes")
    add_data_options(parser)
    return parser


def run_data(args: argparse.Namespace) -> int:
    from fundus_viewer.cli.common import run_on_data

    def make_task(device: torch.device):
        from fundus_viewer.core.batch.tasks import ClassifyTask
        from fundus_viewer.core.cup_disc import load_cup_disc_segmenter
        from fundus_viewer.core.models.checkpoint import load_classifier

        cup_disc = load_cup_disc_segmenter(args.cup_disc_model, device=device) if cup_disc_wanted(args) else None
        return ClassifyTask(load_classifier(args.model, device=device), device, cup_disc, amp=not args.no_amp)

    return run_on_data(args, make_task)


def run(args: argparse.Namespace) -> int:
    check_photos_or_data(build_parser(), args)
    if args.data:
        return run_data(args)
    import torch

    from fundus_viewer.core.batch.tasks import call_row
    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter, measure_cup_disc
    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.ood import pooled_features

    visualizer = open_visualizer(args)
    model = visualizer.model
    segmenter = None
    if cup_disc_wanted(args):
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
        row = {
            "path": path,
            **call_row(
                model,
                probability,
                ood[0] if ood else None,
                measure_cup_disc(segmenter, photo) if segmenter is not None else None,
            ),
        }
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"# {model.calibration.says()}", file=sys.stderr)
        for row in rows:
            if "error" not in row:
                vcdr = (
                    ""
                    if "vertical_cdr" not in row
                    else "  vCDR --  (no disc found)"
                    if row["vertical_cdr"] is None
                    else f"  vCDR {row['vertical_cdr']:.2f}"
                )
                ood = (
                    ("  OOD: unlike the training photos" if row["ood_flag"] else "  OOD: ok")
                    if "ood_flag" in row
                    else ""
                )
                print(f"{row['probability_glaucoma']:.4f}  {row['prediction']:<9}{vcdr}{ood} {row['path']}")
    return 1 if failed else 0
