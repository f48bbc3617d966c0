"""Starting the desktop app: the window first, the model behind it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget


def run_app(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="fundus-viewer", description="Open the Fundus Viewer app.")
    parser.add_argument("photo", nargs="?", help="a photo to open")
    parser.add_argument("--model", help="classifier checkpoint; default: the bundled one")
    parser.add_argument("--device", help="auto, cpu or cuda; default: File ▸ Preferences' choice (auto)")
    parser.add_argument("--cup-disc-model", help="optic disc / cup segmenter checkpoint; default: the bundled one")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from fundus_viewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("FundusViewer")
    app.setApplicationName("Fundus Viewer")
    from fundus_viewer.gui import preferences

    window = MainWindow(args.model, args.device or preferences.device(), args.cup_disc_model)
    window.first_painted.connect(_install_error_reporting)  # before the worker starts, after the first frame
    window.show()
    if args.photo:
        window.open_photo(Path(args.photo))
    return app.exec()


def run_self_test(timeout_s: float = 180.0) -> int:
    """Start the real window (offscreen when there is no display), let the worker load the bundled
    classifier, analyse the first bundled sample, and exit 0 once its heat map is on screen.

    Run on a built app this proves the bundle holds Qt's plugins, torch, the models and the samples.
    """
    import os
    import time

    import numpy as np

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from fundus_viewer.core.cup_disc import default_cup_disc_path
    from fundus_viewer.core.images import list_images
    from fundus_viewer.core.resources import default_classifier_path, samples_dir
    from fundus_viewer.gui.main_window import MainWindow

    started = time.perf_counter()
    samples = list_images(samples_dir()) if samples_dir().is_dir() else []
    print(f"models: {default_classifier_path()} ({'found' if default_classifier_path().is_file() else 'MISSING'})")
    print(f"samples: {samples_dir()} ({len(samples)} photos)")
    if not samples or not default_classifier_path().is_file():
        print("self-test FAILED: bundled model or samples missing", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    result = {"code": 1}
    # a dialog would wait for a click that never comes: report and fail instead
    window = MainWindow()

    def fail(_parent: QWidget | None, title: str, text: str, *args: object) -> None:
        print(f"self-test FAILED: {title}: {text}", file=sys.stderr)
        window.close()  # stops the worker thread before the event loop ends
        app.exit(1)

    QMessageBox.warning = staticmethod(fail)

    # with a bundled cup/disc segmenter the test also waits for its measurement, which follows the maps
    expect_cup_disc = default_cup_disc_path().is_file()

    def finish() -> None:
        print(
            "self-test passed" if result["code"] == 0 else "self-test FAILED: empty or non-finite maps",
            file=sys.stderr if result["code"] else sys.stdout,
        )
        window.close()
        app.exit(result["code"])

    def shown(name: str) -> None:
        maps = window.analysis.heatmaps()
        heat = maps.rl + maps.rnfld
        ok = bool(np.isfinite(heat).all() and heat.any())
        print(
            f"{name}: P(glaucoma) {window.analysis.probability:.3f}; maps {maps.rl.shape[1]}x{maps.rl.shape[0]}, "
            f"RL peak {maps.rl.max():.2f}, RNFLD peak {maps.rnfld.max():.2f}; {window.device_label.text()}; "
            f"{time.perf_counter() - started:.1f} s from start"
        )
        result["code"] = 0 if ok else 1
        if not expect_cup_disc or not ok:
            finish()

    def measured(vcdr: float) -> None:
        print(
            f"vertical cup-to-disc ratio {'-- (no disc found)' if vcdr != vcdr else f'{vcdr:.2f}'}, "
            f"outlines {', '.join(sorted(window.cup_disc.outlines)) or 'none'}"
        )
        finish()

    def too_slow() -> None:
        print(f"self-test FAILED: no heat map within {timeout_s:.0f} s", file=sys.stderr)
        window.close()
        app.exit(1)

    window.analysis_shown.connect(shown)
    window.cup_disc_shown.connect(measured)
    window.show()
    window.open_photo(samples[0])
    QTimer.singleShot(int(timeout_s * 1000), too_slow)
    return app.exec()


def _install_error_reporting() -> None:
    from fundus_viewer.gui.crash import install_excepthook, log_to_file

    log_to_file()
    install_excepthook()
