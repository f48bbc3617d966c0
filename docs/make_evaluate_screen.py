"""Screenshot of the Evaluate dialog with every metric, on two bundled samples with a box each.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_evaluate_screen.py docs/evaluate-dialog.png

The boxes (around the optic disc the window finds) are made up for the picture; they are no ground truth.
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

    from fundus_viewer.core.annotations import AnnotationStore, new_box

    folder = Path(tempfile.mkdtemp())
    for name in ("HRF_01_g.jpg", "ACRIMA_Im310_g.jpg"):
        shutil.copy(ROOT / "resources" / "samples" / name, folder / name)
    screen = ScreenWindow()
    window = screen.window
    with AnnotationStore.for_folder(folder) as store:
        for name in ("HRF_01_g.jpg", "ACRIMA_Im310_g.jpg"):
            screen.open_photo(str(folder / name))
            disc = window.photo.disc
            side = 2.2 * disc.radius
            store.add(new_box(name, "RL", disc.x - side / 2, disc.y - side / 2, side, side, "screenshot"))
    screen.open_photo(str(folder / "HRF_01_g.jpg"))
    dialog = window.evaluate_folder()
    for method, check in dialog.checks.items():
        check.setChecked(method in ("pathology", "cam", "gbp"))
    for check in dialog.metric_checks.values():
        check.setChecked(True)
    dialog.resize(1500, 560)
    dialog.run_button.click()
    screen.wait(lambda: dialog.result is not None, seconds=600)
    screen.settle()
    dialog.grab().save(out)
    print(f"wrote {out}")
    dialog.close()
    window.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/evaluate-dialog.png")
