"""``fundus-viewer heatmap IMAGE... --out DIR``: the pathology maps and baselines as .npy and PNG;
``heatmap --data MANIFEST|FOLDER --out DIR``: a whole data set into maps.zarr and summary.csv."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from fundus_viewer.cli.common import (
    STEM_HELP,
    add_data_options,
    add_map_options,
    add_model_options,
    add_threshold_options,
    check_photos_or_data,
    distinct_photos,
    make_output_dir,
    open_visualizer,
    parse_methods,
    thresholds_from,
    unique_stems,
)

if TYPE_CHECKING:
    import torch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer heatmap",
        description="Write STEM.pathology-rl.npy, STEM.pathology-rnfld.npy and STEM.<method>.npy "
        "(float32, the photo's height x width, non-negative, peak 1), a PNG overlay of each, and "
        f"STEM.maps.json (photo, model, layers, thresholds). {STEM_HELP} "
        "With --data: OUT/maps.zarr (every photo's maps on the analysis grid and the transform that places "
        "them on the photo), OUT/summary.csv (one row per "
        "photo: size, P(glaucoma), call, OOD flag, vCDR with --cup-disc, maps kept per layer, seconds, error); "
        "resumable with --resume, sharded under torchrun.",
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE")
    parser.add_argument("--out", required=True, metavar="DIR")
    add_map_options(parser)
    parser.add_argument(
        "--figure",
        action="store_true",
        help="also STEM.NAME.figure.png per map: the overlay at the photo's size with a colour bar and a caption "
        "(P(glaucoma) and the call, thresholds, model and its sha256), the caption in the PNG's text too "
        "(File > Export view in the window); photos given as IMAGE only",
    )
    add_threshold_options(parser)
    add_model_options(parser)
    add_data_options(parser)
    parser.add_argument(
        "--full-maps",
        action="store_true",
        help="with --data: also each map at the photo's resolution (.npy and PNG, OUT/full/)",
    )
    parser.add_argument(
        "--cup-disc",
        action="store_true",
        help="with --data: measure the vertical cup-to-disc ratio too (the bundled segmenter; "
        "about as long again per photo on a CPU)",
    )
    parser.add_argument(
        "--cup-disc-model", metavar="CKPT", help="cup/disc segmenter for --cup-disc (default: the bundled one)"
    )
    return parser


def run_data(args: argparse.Namespace) -> int:
    from fundus_viewer.cli.common import run_on_data

    methods, thresholds = parse_methods(args.methods), thresholds_from(args)

    def make_task(device: torch.device):
        from fundus_viewer.core.batch.tasks import HeatmapTask
        from fundus_viewer.core.cup_disc import load_cup_disc_segmenter

        visualizer = open_visualizer(args, device)
        cup_disc = (
            load_cup_disc_segmenter(args.cup_disc_model, device=device)
            if args.cup_disc or args.cup_disc_model
            else None
        )
        return HeatmapTask(
            visualizer,
            methods,
            thresholds,
            cup_disc,
            amp=not args.no_amp,
            full_maps=args.full_maps,
            colormap=args.colormap,
        )

    return run_on_data(args, make_task)


def run(args: argparse.Namespace) -> int:
    check_photos_or_data(build_parser(), args)
    if args.data and args.figure:
        build_parser().error("--figure is for photos given as IMAGE, not --data")
    if args.data:
        return run_data(args)
    from fundus_viewer.core.atomic import write_error_text
    from fundus_viewer.core.batch.outputs import clean_staging, photo_files
    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.figure import call_facts, write_figures
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.visualization.maps import build_maps, write_maps

    methods = parse_methods(args.methods)
    thresholds = thresholds_from(args)
    out = make_output_dir(args.out)
    visualizer = open_visualizer(args)
    failed, started = 0, time.perf_counter()
    # photos sharing a stem (a/x.jpg, b/x.jpg, a/x.png) get names of their own, never one set between them
    photos = distinct_photos(args.images)
    stems = unique_stems(photos)
    clean_staging(out, stems)  # what a killed run left of these photos' files
    for number, (path, stem) in enumerate(zip(photos, stems, strict=True), start=1):
        try:
            result = build_maps(visualizer, prepare_photo(path), methods, thresholds)
            with photo_files(out, stem, last=".maps.json") as staging:  # all the photo's files or none
                write_maps(result, staging, args.colormap, stem=stem)
                if args.figure:
                    facts = call_facts(visualizer.model, result)
                    write_figures(result, staging, args.colormap, stem=stem, **facts)
        except FundusViewerError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        except OSError as exc:  # full disk, permissions: stop, the next photo would fail the same way
            raise FundusViewerError(f"could not write to {out}: {write_error_text(exc)}") from None
        detail = "" if result.analysis is None else f"P(glaucoma)={result.analysis.probability:.3f}; {result.counts}"
        print(f"[{number}/{len(photos)}] {path} -> {out / stem}.*: {detail}".rstrip(": "), file=sys.stderr)
    done = len(photos) - failed
    seconds = time.perf_counter() - started
    print(
        f"{done} photo(s) in {seconds:.1f} s ({done / seconds if seconds else 0:.2f} photos/s) -> {out}",
        file=sys.stderr,
    )
    return 1 if failed else 0
