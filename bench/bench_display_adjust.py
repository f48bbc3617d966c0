"""Benchmark: brightness / contrast / gamma / red-free against just showing the photo, same process.

A 12 MP photo (4000 x 3000, resized from a bundled sample) in the review window's PhotoView, fitted to a
1200 x 800 view (drawn from the 1000 x 750 pyramid level) and zoomed 1:1 (a screen-sized crop of the
photo itself). Each figure is the median of ``--repeats`` redraws of the photo tile, painted:
  show      the tile cropped and painted with no adjustment (the baseline);
  adjust    one slider step (set_display with a new brightness), so the tile is re-cropped, adjusted, painted;
and the adjustment of the display level by the core alone. CLAHE is made once per whole level, then
cached: its first cost is given apart.

    QT_QPA_PLATFORM=offscreen python bench/bench_display_adjust.py [--photo PATH] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def median_ms(run, repeats: int) -> float:
    run()  # warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=str(ROOT / "resources" / "samples" / "HRF_01_g.jpg"))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    import cv2

    from fundus_viewer.core.display_adjust import DisplaySettings, adjust
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.pyramid import ImagePyramid
    from fundus_viewer.gui.photo_view import PhotoView

    rgb = cv2.resize(load_image(args.photo).rgb, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    pyramid = ImagePyramid(rgb)
    view = PhotoView()
    view.resize(1200, 800)
    view.show()
    app.processEvents()
    view.show_photo(pyramid)
    app.processEvents()

    def show() -> None:
        view._photo_tile = None  # the tile is cropped and set again, as after a zoom to another level
        view._draw_photo()
        view.viewport().repaint()

    steps = iter(np.tile(np.linspace(-0.3, 0.3, 61), 1000))

    def step(base: DisplaySettings):
        def run() -> None:
            view.set_display(DisplaySettings(round(float(next(steps)), 2), *_rest(base)))
            view.viewport().repaint()

        return run

    cases = (
        ("brightness", DisplaySettings()),
        ("brightness + contrast + gamma", DisplaySettings(contrast=1.3, gamma=1.4)),
        ("red-free", DisplaySettings(red_free=True)),
        ("red-free + gamma", DisplaySettings(gamma=1.4, red_free=True)),
        ("red-free + CLAHE (cached)", DisplaySettings(red_free=True, clahe=True)),
    )
    print(f"photo {Path(args.photo).name} resized to 4000 x 3000 (12.0 MP); view 1200 x 800 px")
    for where in ("fitted", "zoomed 1:1"):
        if where == "zoomed 1:1":
            view.viewbox.setRange(QRectF(1400, 1100, view.viewbox.width(), view.viewbox.height()), padding=0)
            app.processEvents()
        view.set_display(DisplaySettings())
        base = median_ms(show, args.repeats)
        level = view._photo_tile[0]
        h, w = pyramid.levels[level].shape[:2]
        tile = view.photo.image.shape
        print(f"{where}: level {level} ({w} x {h}), tile {tile[1]} x {tile[0]}; show {base:.1f} ms")
        for name, settings in cases:
            if settings.clahe:
                view._adjusted = None
                t = time.perf_counter()
                view.set_display(settings)
                first = (time.perf_counter() - t) * 1000
                print(f"    CLAHE of the whole level, once: {first:.1f} ms")
            ms = median_ms(step(settings), args.repeats)
            print(f"    adjust, {name}: {ms:.1f} ms ({ms / base:.2f}x show, +{ms - base:.1f} ms)")
        view.set_display(DisplaySettings())
    display = pyramid.levels[2]
    print(f"core alone on the {display.shape[1]} x {display.shape[0]} display level:")
    for name, settings in cases:
        ms = median_ms(lambda s=settings: adjust(display, 0.1, *_rest(s)), args.repeats)
        print(f"    adjust(), {name.replace('(cached)', '(made each call)')}: {ms:.2f} ms")
    ms = median_ms(lambda: adjust(rgb, 0.1), 5)
    print(f"core alone on the whole 12 MP photo (never done by the view): adjust(), brightness: {ms:.1f} ms")
    view.close()


def _rest(settings) -> tuple:
    return settings.contrast, settings.gamma, settings.red_free, settings.clahe


if __name__ == "__main__":
    main()
