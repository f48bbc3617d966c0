"""Benchmark: one cup/disc measurement (disc location, U-Net, vCDR, outlines) against the classifier's
pathology analysis of the same photo, in the same process.

    python bench/bench_cup_disc.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fundus_viewer.core.cup_disc import load_cup_disc_segmenter, measure_cup_disc  # noqa: E402
from fundus_viewer.core.disc import locate_optic_disc  # noqa: E402
from fundus_viewer.core.images import load_image  # noqa: E402
from fundus_viewer.core.models.checkpoint import load_classifier  # noqa: E402
from fundus_viewer.core.resources import samples_dir  # noqa: E402
from fundus_viewer.core.visualization.pathology import PathologyVisualizer  # noqa: E402


def median_ms(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--photo", default=str(samples_dir() / "HRF_01_g.jpg"))
    args = parser.parse_args()
    photo = load_image(args.photo)
    segmenter = load_cup_disc_segmenter()
    visualizer = PathologyVisualizer(load_classifier())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; "
        f"{Path(args.photo).name} {photo.width} x {photo.height}"
    )
    measured = median_ms(lambda: measure_cup_disc(segmenter, photo), args.repeats)
    located = median_ms(lambda: locate_optic_disc(photo.rgb), args.repeats)
    analysed = median_ms(lambda: visualizer.analyze(photo), args.repeats)
    print(
        f"cup/disc measurement {measured:.1f} ms (of which locating the disc {located:.1f} ms); "
        f"pathology analysis {analysed:.1f} ms; ratio {measured / analysed:.2f}"
    )
    measured = measure_cup_disc(segmenter, photo)
    print(
        f"vCDR {measured.vcdr:.2f}" if measured.disc is not None else "no disc found",
        f"({measured.squares} squares segmented)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
