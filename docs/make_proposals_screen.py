"""Screenshot of boxes proposed from the maps, one accepted, on a bundled sample.

xvfb-run -s "-screen 0 1600x1000x24" python docs/make_proposals_screen.py docs/review-proposals.png
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(out: str) -> None:
    from screen_window import ScreenWindow  # beside this script

    folder = Path(tempfile.mkdtemp())
    shutil.copy(ROOT / "resources" / "samples" / "HRF_01_g.jpg", folder / "HRF_01_g.jpg")
    screen = ScreenWindow()
    window = screen.window
    screen.open_photo(str(folder / "HRF_01_g.jpg"))
    screen.wait(lambda: window.analysis is not None)
    screen.settle()
    proposals = window.annotations.proposals
    count = proposals.propose_from_maps("otsu")
    if count > 1:
        proposals.accept_current()  # the strongest becomes an ordinary box; the rest stay proposals
    from PySide6.QtCore import QRectF

    disc = window.photo.disc
    side = 9 * disc.radius  # the disc and what lies around it
    window.view.viewbox.setRange(QRectF(disc.x - side * 0.8, disc.y - side / 2, side * 1.6, side), padding=0)
    screen.settle()
    window.grab().save(out)
    print(f"wrote {out} ({count} proposals)")
    window.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/review-proposals.png")
