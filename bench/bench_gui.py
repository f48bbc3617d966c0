"""Benchmark: how the review window feels, against baselines measured in the same process.

(a) slider-to-redraw latency: a theta_act drag of 100 steps, each a full recombination of the cached
    analysis and a repaint of the overlay; median and worst, and their ratio to one network pass (what a
    redraw would cost if it re-ran the classifier);
(b) the longest event-loop stall while the worker analyses a photo (and while it computes Occlusion, the
    slowest baseline), against the longest stall of the same 5 ms timer with the worker idle.

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--photo PATH] [--model CKPT]
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
    return max(b - a for a, b in zip(ticks, ticks[1:])) if len(ticks) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=str(ROOT / "resources" / "samples" / "HRF_01_g.jpg"))
    parser.add_argument("--model")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from fundus_viewer.gui.main_window import MainWindow

    window = MainWindow(args.model, "auto")
    window.resize(1400, 860)
    window.show()
    wait(app, lambda: "·" in window.device_label.text())
    print(f"model: {window.device_label.text()}; photo {Path(args.photo).name}")

    shown = []
    window.analysis_shown.connect(shown.append)
    window.open_photo(args.photo)
    wait(app, lambda: shown)

    # (a) one network pass, the cost a redraw avoids
    passes = []
    for _ in range(5):
        t = time.perf_counter()
        window.worker._visualizer.analyze(window.photo)
        passes.append((time.perf_counter() - t) * 1000)
    network = statistics.median(passes)
    latencies = []
    for i in range(100):
        value = 0.05 + 0.5 * (i / 99)
        t = time.perf_counter()
        window.panel.theta_act.setValue(value)  # valueChanged -> redraw, synchronously
        app.processEvents()  # the repaint
        latencies.append((time.perf_counter() - t) * 1000)
    median, worst = statistics.median(latencies), max(latencies)
    print(f"(a) slider to redraw over a 100-step drag: median {median:.1f} ms, worst {worst:.1f} ms; "
          f"one network pass {network:.1f} ms: redraw is {network / median:.0f}x faster (worst {network / worst:.1f}x)")

    # (b) event-loop stalls
    idle = longest_stall(app, lambda: None, lambda: False if time.sleep(0) else _after(1.0))
    shown.clear()
    busy = longest_stall(app, lambda: window.open_photo(args.photo), lambda: bool(shown))
    occlusion = []
    window.baseline_shown.connect(occlusion.append)
    slow = longest_stall(app, lambda: window.panel.pathology.setCurrentIndex(5), lambda: bool(occlusion))
    print(f"(b) longest event-loop stall: idle {idle:.1f} ms; while analysing a photo {busy:.1f} ms ({busy / idle:.1f}x idle); "
          f"while computing Occlusion {slow:.1f} ms ({slow / idle:.1f}x idle); budget 50 ms")
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
