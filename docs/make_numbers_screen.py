"""Screenshot of the numbers a clinician reads (#20 item 7): every sample photo analysed in turn, so the
list shows each one's P, vCDR and OOD flag, and the panel the shown photo's P, call, vCDR and flag.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_numbers_screen.py FOLDER OUT.png [SHOWN]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(folder: str, out: str, shown: str | None = None) -> None:
    from screen_window import ScreenWindow  # beside this script

    from fundus_viewer.core.formats import list_images

    screen = ScreenWindow()
    photos = list_images(Path(folder))
    for photo in [p for p in photos if p.name != shown] + [p for p in photos if p.name == shown]:
        screen.open_photo(str(photo))
    screen.window.grab().save(out)
    screen.window.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
