"""Screenshot of the review window as a first start shows it (#20 item 12): no photo yet, and the hint
that says how to open one.

    XDG_CONFIG_HOME=/tmp/fresh/config xvfb-run -s "-screen 0 1600x1000x24" python docs/make_start_hint_screen.py OUT.png
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(out: str) -> None:
    from screen_window import ScreenWindow  # beside this script

    screen = ScreenWindow(1200, 720)
    screen.settle()
    screen.window.grab().save(out)
    screen.window.close()


if __name__ == "__main__":
    main(sys.argv[1])
