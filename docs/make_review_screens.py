"""Screenshots of the review window on one photo: fitted, and zoomed onto the optic disc at 1 and at
4 screen pixels per photo pixel, as a clinician would look at a camera-size photo.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_review_screens.py PHOTO OUT_PREFIX

Writes OUT_PREFIX-fit.png, OUT_PREFIX-disc.png and OUT_PREFIX-disc-4x.png.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(photo: str, prefix: str) -> None:
    from PySide6.QtCore import QRectF
    from PySide6.QtWidgets import QApplication

    from fundus_viewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1500, 900)
    window.show()

    def wait(condition, seconds=120.0):
        end = time.perf_counter() + seconds
        while not condition():
            app.processEvents()
            time.sleep(0.005)
            if time.perf_counter() > end:
                raise TimeoutError("the window did not answer")

    wait(lambda: "·" in window.device_label.text())
    window.open_photo(photo)
    wait(lambda: window.cup_disc is not None)
    settle = lambda: [app.processEvents() or time.sleep(0.02) for _ in range(20)]  # noqa: E731
    settle()
    window.grab().save(f"{prefix}-fit.png")
    disc = window.photo.disc
    for name, zoom in (("disc", 1), ("disc-4x", 4)):
        width, height = window.view.width() / zoom, window.view.height() / zoom
        window.view.viewbox.setRange(QRectF(disc.x - width / 2, disc.y - height / 2, width, height), padding=0)
        settle()
        window.grab().save(f"{prefix}-{name}.png")
    window.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
