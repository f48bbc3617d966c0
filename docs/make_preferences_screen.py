"""Screenshot of File ▸ Preferences… (#20 item 13) over the review window, a sample photo open and the
annotator renamed in the dialog, so its offer to take the old name's boxes along shows.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_preferences_screen.py PHOTO OUT.png
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(photo: str, out: str) -> None:
    from PIL import Image, ImageDraw
    from PySide6.QtCore import QSettings
    from screen_window import ScreenWindow  # beside this script

    from fundus_viewer.core.annotations import AnnotationStore, new_box
    from fundus_viewer.gui.preferences_dialog import PreferencesDialog

    folder = Path(tempfile.mkdtemp())  # a copy: the screenshot writes no boxes beside the bundled samples
    copy = folder / Path(photo).name
    shutil.copy(photo, copy)
    with AnnotationStore.for_folder(folder) as store:
        store.add(new_box(copy.name, "RL", 100, 100, 200, 200, "dr-ann"))
    from PySide6.QtWidgets import QApplication

    QApplication.instance() or QApplication([])
    QSettings().setValue("annotate/annotator", "dr-ann")
    screen = ScreenWindow(1300, 800)
    screen.open_photo(str(copy))
    dialog = PreferencesDialog(screen.window)
    dialog.annotator.name.lineEdit().setText("Dr Ann Smith")
    dialog.colormap.setCurrentText("viridis")
    dialog.theta_act.setValue(0.15)
    dialog.show()
    screen.settle()
    window, pane = screen.window.grab().toImage(), dialog.grab().toImage()
    for image, name in ((window, "window"), (pane, "dialog")):
        image.save(str(folder / f"{name}.png"))
    back = Image.open(folder / "window.png").convert("RGB")
    front = Image.open(folder / "dialog.png").convert("RGB")
    left, top = (back.width - front.width) // 2, (back.height - front.height) // 2
    ImageDraw.Draw(back).rectangle((left - 2, top - 2, left + front.width + 1, top + front.height + 1), fill="#555")
    back.paste(front, (left, top))
    back.save(out, optimize=True)
    dialog.close()
    screen.window.close()
    shutil.rmtree(folder)


if __name__ == "__main__":
    main(*sys.argv[1:3])
