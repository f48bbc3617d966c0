"""Benchmark: how the review window feels, against baselines measured in the same process.

(a) slider-to-redraw latency: a theta_act drag of 100 steps, 20 ms apart (a hand's drag), from each
    value change until its redraw (a full recombination of the cached analysis and the overlay
    re-rendered for the view) is painted; median and worst, and their ratio to one network pass (what a
    redraw would cost if it re-ran the classifier); every step must make exactly one redraw;
(b) the longest event-loop stall while the worker decodes and analyses a photo (and while it computes
    Occlusion, the slowest baseline), against the longest stall of the same 5 ms timer with the worker idle;
(c) zoomed onto the disc at one photo pixel per screen pixel: the same drag, and 50 pan steps;
(d) the process's peak memory (RSS high-water mark) with the photo open and analysed.

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--photo PATH] [--size 4000x3000] [--model CKPT]

``--size`` resizes the photo to that size first (bicubic, a temporary JPEG): camera sizes from one photo.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def wait(app, condition, timeout=300.0):
    end = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() > end:
            raise TimeoutError("the window did not answer in time")


def longest_stall(app, run, done) -> float:
    """Longest gap (ms) between ticks of a 5 ms timer while ``run()`` starts work and until ``done()``."""
    ticks, clock = [], QElapsedTimer()
    clock.start()
    timer = QTimer(interval=5, timeout=lambda: ticks.append(clock.nsecsElapsed() / 1e6))
    timer.start()
    run()
    app.exec_loop_until = None
    end = time.perf_counter() + 300
    while not done() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.0005)
    timer.stop()
    ticks.append(clock.nsecsElapsed() / 1e6)
    return max(b - a for a, b in itertools.pairwise(ticks)) if len(ticks) > 1 else float("nan")


def drag(app, window, steps: int = 100, spacing_ms: float = 20.0) -> list[float]:
    """ms from each theta_act change to its redraw being painted, the steps ``spacing_ms`` apart."""
    latencies, redraws = [], []
    window.redrawn.connect(lambda: redraws.append(1))
    for i in range(steps):
        value = 0.05 + 0.5 * (i / (steps - 1))
        t = time.perf_counter()
        done = len(redraws)
        window.panel.theta_act.setValue(value)  # valueChanged -> one redraw when the event loop is free
        wait(app, lambda done=done: len(redraws) > done, timeout=5)
        app.processEvents()  # the repaint
        latencies.append((time.perf_counter() - t) * 1000)
        while (time.perf_counter() - t) * 1000 < spacing_ms:
            app.processEvents()
            time.sleep(0.0005)
    if len(redraws) != steps:
        raise RuntimeError(f"{steps} steps made {len(redraws)} redraws")
    return latencies


def resized_copy(photo: str, size: str) -> str:
    from PIL import Image

    width, height = (int(v) for v in size.lower().split("x"))
    path = Path(tempfile.mkdtemp()) / f"{Path(photo).stem}_{width}x{height}.jpg"
    with Image.open(photo) as im:
        im.convert("RGB").resize((width, height), Image.Resampling.BICUBIC).save(path, quality=92)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=str(ROOT / "resources" / "samples" / "HRF_01_g.jpg"))
    parser.add_argument("--size", help="resize the photo to WIDTHxHEIGHT first, e.g. 4000x3000")
    parser.add_argument("--model")
    args = parser.parse_args()
    photo = resized_copy(args.photo, args.size) if args.size else args.photo
    app = QApplication.instance() or QApplication([])
    from fundus_viewer.gui.main_window import MainWindow

    window = MainWindow(args.model, "auto")
    window.resize(1400, 860)
    window.show()
    wait(app, lambda: "·" in window.device_label.text())
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    shown = []
    window.analysis_shown.connect(shown.append)
    window.open_photo(photo)
    wait(app, lambda: shown)
    # the drag measures the steady state: after the cup/disc outlines follow the maps ((b) covers that time)
    wait(app, lambda: window.cup_disc is not None or window.worker._cup_disc is None)
    print(
        f"model: {window.device_label.text()}; photo {Path(photo).name}, {window.photo.width} x {window.photo.height} "
        f"({window.photo.width * window.photo.height / 1e6:.1f} MP); "
        f"view {window.view.width()} x {window.view.height()} px"
    )

    # (a) one network pass, the cost a redraw avoids
    passes = []
    for _ in range(5):
        t = time.perf_counter()
        window.worker._visualizer.analyze(window.photo)
        passes.append((time.perf_counter() - t) * 1000)
    network = statistics.median(passes)
    latencies = drag(app, window)
    median, worst = statistics.median(latencies), max(latencies)
    print(
        f"(a) slider to redraw over a 100-step drag: median {median:.1f} ms, worst {worst:.1f} ms; "
        f"one network pass {network:.1f} ms: redraw is {network / median:.0f}x faster (worst {network / worst:.1f}x)"
    )

    # (b) event-loop stalls
    idle = longest_stall(app, lambda: None, lambda: False if time.sleep(0) else _after(1.0))
    shown.clear()
    busy = longest_stall(app, lambda: window.open_photo(photo), lambda: bool(shown))
    occlusion = []
    window.baseline_shown.connect(occlusion.append)
    slow = longest_stall(app, lambda: window.panel.pathology.setCurrentIndex(5), lambda: bool(occlusion))
    print(
        f"(b) longest event-loop stall: idle {idle:.1f} ms; "
        f"while analysing a photo {busy:.1f} ms ({busy / idle:.1f}x idle); "
        f"while computing Occlusion {slow:.1f} ms ({slow / idle:.1f}x idle); budget 20 ms"
    )

    # (c) zoomed onto the disc, one photo pixel per screen pixel
    window.panel.pathology.setCurrentIndex(0)
    app.processEvents()
    disc = window.photo.disc
    half_w, half_h = window.view.width() / 2, window.view.height() / 2
    from PySide6.QtCore import QRectF

    window.view.viewbox.setRange(QRectF(disc.x - half_w, disc.y - half_h, 2 * half_w, 2 * half_h), padding=0)
    app.processEvents()
    zoomed = drag(app, window)
    pans = []
    for i in range(50):
        t = time.perf_counter()
        window.view.viewbox.translateBy(x=8 if i < 25 else -8)
        window.view.refresh()  # what the coalescing timer runs once per burst
        app.processEvents()
        pans.append((time.perf_counter() - t) * 1000)
    print(
        f"(c) zoomed 1:1 on the disc: slider to redraw median {statistics.median(zoomed):.1f} ms, "
        f"worst {max(zoomed):.1f} ms; "
        f"pan step median {statistics.median(pans):.1f} ms, worst {max(pans):.1f} ms"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "(d) peak memory (RSS high-water mark) with the "
        f"{window.photo.width * window.photo.height / 1e6:.1f} MP photo open and analysed: "
        f"{peak_mb:.0f} MB (model loaded, no photo yet: {before_mb:.0f} MB; "
        f"the photo's own pixels: {window.photo.rgb.nbytes / 2**20:.0f} MB)"
    )
    window.close()


_start = {}


def _after(seconds: float) -> bool:
    now = time.perf_counter()
    _start.setdefault("t", now)
    if now - _start["t"] >= seconds:
        _start.clear()
        return True
    return False


if __name__ == "__main__":
    main()
