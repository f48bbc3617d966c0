"""Screenshots of #20 item 13: a glaucomatous photo in the red-free view under its RNFLD map, and the
keyboard shortcuts sheet (Help ▸ Keyboard shortcuts).

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_display_screens.py red-free.png shortcuts.png
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(red_free_out: str, shortcuts_out: str) -> None:
    from screen_window import ScreenWindow  # beside this script

    screen = ScreenWindow()
    window = screen.window
    screen.open_photo(str(ROOT / "resources" / "samples" / "HRF_01_g.jpg"))
    window.panel.pathology.setCurrentIndex(window.panel.pathology.findData("rnfld"))
    window.red_free_action.trigger()  # View ▸ Red-free (Ctrl+R)
    window.display_controls.clahe.setChecked(True)
    window.display_controls.sliders["gamma"].setValue(1.2)
    screen.settle()
    window.grab().save(red_free_out)
    sheet = window.show_shortcuts()
    sheet.resize(1040, 740)
    screen.settle()
    sheet.grab().save(shortcuts_out)
    sheet.close()
    window.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
