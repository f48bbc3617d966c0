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
        "(float32, the photo's height x width, non-negative, peak 1) and a PNG overlay of each.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--methods", default="pathology", help="comma-separated: pathology,cam,gbp,smoothgrad,occlusion")
    parser.add_argument("--colormap", choices=("inferno", "viridis", "cividis"), default="inferno")
    add_threshold_options(parser)
    add_model_options(parser)
    return parser


def run(args) -> int:
    import numpy as np

    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.overlay import overlay, write_png
    from fundus_viewer.core.visualization.baselines import baseline_map

    methods = parse_methods(args.methods)
    thresholds = thresholds_from(args)
    out = make_output_dir(args.out)
    visualizer = open_visualizer(args)
    failed, started = 0, time.perf_counter()
    for number, path in enumerate(args.images, start=1):
        try:
            photo = load_image(path)
            maps = {}
            if "pathology" in methods:
                analysis = visualizer.analyze(photo)
                heat = analysis.heatmaps(thresholds.theta_act, thresholds.cmi_low, thresholds.cmi_high, thresholds.normalization)
                maps["pathology-rl"], maps["pathology-rnfld"] = heat.rl, heat.rnfld
                detail = f"P(glaucoma)={analysis.probability:.3f}; {heat.counts_text()}"
            else:
                detail = ""
            baselines = [m for m in methods if m != "pathology"]
            if baselines:
                _, transform, x = visualizer.prepare(photo)
                for method in baselines:
                    maps[method] = baseline_map(method, visualizer.model, x, transform).heat
            stem = Path(path).stem
            for name, heat_map in maps.items():
                _save_npy(out / f"{stem}.{name}.npy", heat_map.astype(np.float32))
                write_png(out / f"{stem}.{name}.png", overlay(photo.rgb, heat_map, args.colormap))
        except FundusViewerError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        except OSError as exc:  # full disk, permissions: stop, the next photo would fail the same way
            raise FundusViewerError(f"could not write to {out}: {exc.strerror or exc}") from None
        print(f"[{number}/{len(args.images)}] {path}: {detail}".rstrip(": "), file=sys.stderr)
    done = len(args.images) - failed
    seconds = time.perf_counter() - started
    print(f"{done} photo(s) in {seconds:.1f} s ({done / seconds if seconds else 0:.2f} photos/s) -> {out}", file=sys.stderr)
    return 1 if failed else 0


def _save_npy(path: Path, array) -> None:
    import numpy as np

    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        np.save(stream, array)
    partial.replace(path)
