"""Screenshot of Patho-GAN ▸ Synthesize on a sample photo (#20 item 10), with the main window's P(glaucoma)
printed beside it (the real photo's P in the view must be that number).

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_synthesize_screen.py PHOTO OUT.png [SEED]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(photo: str, out: str, seed: str = "3") -> None:
    from screen_window import ScreenWindow  # beside this script

    screen = ScreenWindow()
    screen.open_photo(photo)
    view = screen.window.open_synthesize()
    view.seed.setValue(int(seed))
    view.run.click()
    screen.wait(lambda: view.comparison is not None or "failed" in view.status.text())
    screen.settle()
    view.grab().save(out)
    print(f"main window: P(glaucoma) {screen.window.analysis.probability:.3f}; wrote {out}")
    view.close()
    screen.window.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
