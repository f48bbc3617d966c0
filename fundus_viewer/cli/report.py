"""``fundus-viewer report PHOTO_OR_FOLDER... --out report.html``: one self-contained HTML report (images
embedded) of a photo, or of every photo of a folder with a table linking to each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fundus_viewer.cli.common import (
    add_cup_disc_options,
    add_map_options,
    add_model_options,
    add_threshold_options,
    cup_disc_wanted,
    open_visualizer,
    parse_methods,
    thresholds_from,
)


def build_parser() -> argparse.ArgumentParser:
    from fundus_viewer.core.report import IMAGE_SIZE

    parser = argparse.ArgumentParser(
        prog="fundus-viewer report",
        description="One HTML file with every image embedded (it can be mailed): per photo the photo, its "
        "RL and RNFLD maps over it (and any --methods baselines), P(glaucoma) and the call, the calibration, "
        "the vertical cup-to-disc ratio and the OOD flag; the thresholds, model (SHA-256), version and date. "
        "A folder (searched recursively, DICOM included) or several photos get a table of every photo first.",
    )
    parser.add_argument("sources", nargs="+", metavar="PHOTO_OR_FOLDER")
    parser.add_argument("--out", required=True, metavar="REPORT.html")
    add_map_options(parser, " (the RL and RNFLD maps always come)")
    parser.add_argument(
        "--image-size", type=int, default=IMAGE_SIZE, metavar="PX", help=f"longer side of each image ({IMAGE_SIZE})"
    )
    add_threshold_options(parser)
    add_model_options(parser)
    add_cup_disc_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from fundus_viewer.core.atomic import write_error_text
    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter
    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.report import photo_entries, report_context, write_report

    if args.image_size < 16:
        build_parser().error("--image-size must be at least 16")
    methods, thresholds = parse_methods(args.methods), thresholds_from(args)
    out = Path(args.out)
    visualizer = open_visualizer(args)
    segmenter = (
        load_cup_disc_segmenter(args.cup_disc_model, device=visualizer.device) if cup_disc_wanted(args) else None
    )

    def said(number: int, total: int, entry) -> None:
        detail = entry.error or f"P(glaucoma)={entry.row['probability_glaucoma']:.3f} {entry.row['prediction']}"
        print(f"[{number}/{total}] {entry.name}: {detail}", file=sys.stderr)

    entries = photo_entries(
        args.sources,
        visualizer,
        methods,
        thresholds,
        segmenter,
        args.colormap,
        args.image_size,
        progress=said,
    )
    if not entries:
        raise FundusViewerError(f"no photos in {', '.join(args.sources)}")
    single = len(args.sources) == 1 and Path(args.sources[0]).is_file() and len(entries) == 1
    title = ", ".join(Path(s).name for s in args.sources)
    context = report_context(title, visualizer.model, visualizer.layers, thresholds, args.colormap)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_report(out, entries, context, table=not single)
    except OSError as exc:
        raise FundusViewerError(f"could not write {out}: {write_error_text(exc)}") from None
    failed = sum(1 for e in entries if e.error)
    print(f"{len(entries)} photo(s), {failed} with errors -> {out}", file=sys.stderr)
    return 1 if failed else 0
