"""``fundus-viewer evaluate --images DIR --boxes COCO.json``: the paper's Table 1 for your boxes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fundus_viewer.cli.common import (
    METHOD_KEYS,
    add_model_options,
    add_threshold_options,
    open_visualizer,
    parse_methods,
    thresholds_from,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer evaluate",
        description="Localisation accuracy (heat inside the boxes / total heat), mean +- std %, per method "
        "and pathology, and with --metrics the pointing game, rank accuracy, top-k intersection, AUC and the "
        "deletion / insertion areas. RL boxes score the RL map, RNFLD boxes the RNFLD map; a baseline's single "
        "map is scored against both; a flat map gives each metric's chance level.",
    )
    parser.add_argument(
        "--images", required=True, metavar="DIR", help="folder holding the photos named in the box file"
    )
    parser.add_argument("--boxes", required=True, metavar="COCO.json")
    parser.add_argument("--methods", default=",".join(METHOD_KEYS))
    parser.add_argument(
        "--metrics",
        default="accuracy",
        help="comma-separated: accuracy (the paper's), pointing-game, rank-accuracy, top-k, auc, deletion, insertion; "
        "every method is compared with a flat map (chance) and, paired, with ours",
    )
    parser.add_argument("--out", metavar="table.csv", help="write the table here (and every image's scores beside it)")
    add_threshold_options(parser)
    add_model_options(parser)
    return parser


def load_boxes(path: str, images: str):
    """The boxes, checked against the photos' sizes (from their headers where the file does not say);
    a box partly outside its photo is clipped, with a warning. Names may hold folders (``glaucoma/eye.jpg``)
    under ``images``, never a way out of it."""
    from fundus_viewer.core.boxes import load_coco
    from fundus_viewer.core.errors import BoxesError
    from fundus_viewer.core.images import photo_sizes

    folder = Path(images)
    notes: list[str] = []
    boxes = load_coco(path, photo_sizes(folder), notes)
    root = folder.resolve()
    for name, entry in boxes.items():
        photo = (folder / name).resolve()
        if not photo.is_relative_to(root):  # a link inside the folder to a file outside it
            raise BoxesError(f"{path}: {name!r} leads out of {folder}")
        if any(entry.boxes.values()) and not photo.is_file():
            notes.append(f"{path}: {name}: no such photo in {folder}")
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    return boxes


def run(args: argparse.Namespace) -> int:
    from fundus_viewer.core.evaluation import check_metrics, evaluate_localization

    methods = parse_methods(args.methods)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    check_metrics(metrics)
    thresholds = thresholds_from(args)
    boxes = load_boxes(args.boxes, args.images)  # a bad box file is refused before the model loads
    visualizer = open_visualizer(args)

    def progress(done: int, total: int, name: str) -> None:
        if name:
            print(f"[{done + 1}/{total}] {name}", file=sys.stderr)

    result = evaluate_localization(
        visualizer, args.images, boxes, methods, thresholds, progress=progress, metrics=metrics
    )
    for name, reason in result.failures.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(result.format_table(methods))
    if args.out:
        table, per_image = result.write_csv(args.out, methods)
        print(f"wrote {table} and {per_image}", file=sys.stderr)
    return 1 if result.failures else 0
