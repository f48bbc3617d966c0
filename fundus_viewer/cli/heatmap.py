"""``fundus-viewer heatmap IMAGE... --out DIR``: the pathology maps and baselines as .npy and PNG."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fundus_viewer.cli.common import (
    add_model_options,
    add_threshold_options,
    make_output_dir,
    open_visualizer,
    parse_methods,
    thresholds_from,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer heatmap",
        description="Write STEM.pathology-rl.npy, STEM.pathology-rnfld.npy and STEM.<method>.npy "
        "(float32, the photo's height x width, non-negative, peak 1), a PNG overlay of each, and "
        "STEM.maps.json (photo, model, layers, thresholds).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--methods", default="pathology", help="comma-separated: pathology,cam,gbp,smoothgrad,occlusion")
    parser.add_argument("--colormap", choices=("inferno", "viridis", "cividis"), default="inferno")
    add_threshold_options(parser)
    add_model_options(parser)
    return parser


def run(args) -> int:
    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.visualization.maps import build_maps, write_maps

    methods = parse_methods(args.methods)
    thresholds = thresholds_from(args)
    out = make_output_dir(args.out)
    visualizer = open_visualizer(args)
    failed, started = 0, time.perf_counter()
    for number, path in enumerate(args.images, start=1):
        try:
            result = build_maps(visualizer, prepare_photo(path), methods, thresholds)
            write_maps(result, out, args.colormap, stem=Path(path).stem)
        except FundusViewerError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        except OSError as exc:  # full disk, permissions: stop, the next photo would fail the same way
            raise FundusViewerError(f"could not write to {out}: {exc.strerror or exc}") from None
        detail = "" if result.analysis is None else f"P(glaucoma)={result.analysis.probability:.3f}; {result.counts}"
        print(f"[{number}/{len(args.images)}] {path}: {detail}".rstrip(": "), file=sys.stderr)
    done = len(args.images) - failed
    seconds = time.perf_counter() - started
    print(f"{done} photo(s) in {seconds:.1f} s ({done / seconds if seconds else 0:.2f} photos/s) -> {out}", file=sys.stderr)
    return 1 if failed else 0
