"""``fundus-viewer propose-boxes PHOTO_OR_FOLDER... --out COCO.json``: RL / RNFLD boxes proposed from
the pathology-aware maps, for annotators to accept or reject: every annotation is marked as a proposal,
and `evaluate` refuses the file as ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fundus_viewer.cli.common import add_model_options, add_threshold_options, open_visualizer, thresholds_from


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-viewer propose-boxes", description=__doc__)
    parser.add_argument("photos", nargs="+", metavar="PHOTO_OR_FOLDER")
    parser.add_argument("--out", required=True, metavar="COCO.json")
    parser.add_argument(
        "--threshold",
        choices=("otsu", "percentile"),
        default="otsu",
        help="Otsu's threshold over the pixels with heat, or a percentile of them",
    )
    parser.add_argument("--percentile", type=float, default=90.0, help="with --threshold percentile (90)")
    parser.add_argument("--max-boxes", type=int, default=5, help="per map and photo, the strongest first (5)")
    add_threshold_options(parser)
    add_model_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from fundus_viewer.core.errors import ImageLoadError
    from fundus_viewer.core.images import list_images, load_image
    from fundus_viewer.core.methods import Pathology
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.proposals import propose_boxes, write_proposals_coco
    from fundus_viewer.core.visualization.maps import build_maps

    paths = [p for given in args.photos for p in (list_images(given) if Path(given).is_dir() else [Path(given)])]
    visualizer = open_visualizer(args)
    thresholds = thresholds_from(args)
    found, failed = {}, 0
    for index, path in enumerate(paths, start=1):
        try:
            photo = prepare_photo(load_image(path))
        except ImageLoadError as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        maps = build_maps(visualizer, photo, ("pathology",), thresholds)
        proposals = [
            p
            for pathology in Pathology
            for p in propose_boxes(
                maps.full(pathology.map_name),
                pathology.value,
                args.threshold,
                args.percentile,
                max_boxes=args.max_boxes,
                source=pathology.map_name,
            )
        ]
        found[path.name] = ((photo.width, photo.height), proposals)
        print(f"[{index}/{len(paths)}] {path.name}: {len(proposals)} proposal(s)", file=sys.stderr)
    write_proposals_coco(found, args.out)
    print(
        f"wrote {args.out}: {sum(len(p) for _, p in found.values())} proposals for {len(found)} photo(s), "
        "marked as proposals (not ground truth)"
    )
    return 1 if failed else 0
