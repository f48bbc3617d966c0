"""Screenshots of the review window on one photo: fitted, and zoomed onto the optic disc at 1 and at
4 screen pixels per photo pixel, as a clinician would look at a camera-size photo.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_review_screens.py PHOTO OUT_PREFIX

Writes OUT_PREFIX-fit.png, OUT_PREFIX-disc.png and OUT_PREFIX-disc-4x.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(photo: str, prefix: str) -> None:
    from PySide6.QtCore import QRectF
    from screen_window import ScreenWindow  # beside this script

    screen = ScreenWindow()
    window = screen.window
    screen.open_photo(photo)
    window.grab().save(f"{prefix}-fit.png")
    disc = window.photo.disc
    for name, zoom in (("disc", 1), ("disc-4x", 4)):
        width, height = window.view.width() / zoom, window.view.height() / zoom
        window.view.viewbox.setRange(QRectF(disc.x - width / 2, disc.y - height / 2, width, height), padding=0)
        screen.settle()
        window.grab().save(f"{prefix}-{name}.png")
    window.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
