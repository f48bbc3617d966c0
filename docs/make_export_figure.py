"""File ▸ Export view on a sample photo (#20 item 11): the photo copied into a folder of its own with one
RL box, opened in the window with the bundled models, its RL map on screen, then exported.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_export_figure.py PHOTO OUT.png
    python docs/make_export_figure.py --join BEFORE.png AFTER.png OUT.png   # labelled, side by side

Run from another checkout's docs/ (a copy of this script there) for its own export.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def export(photo: str, out: str) -> None:
    from screen_window import ScreenWindow  # beside this script

    from fundus_viewer.core.annotations import AnnotationStore, new_box

    folder = Path(tempfile.mkdtemp(prefix="export-figure-"))
    copy = folder / Path(photo).name
    shutil.copy(photo, copy)
    with AnnotationStore.for_folder(folder) as store:  # a box where the sample's RL map is hot
        from PIL import Image

        width, height = Image.open(copy).size
        store.add(new_box(copy.name, "RL", 0.63 * width, 0.33 * height, 0.12 * width, 0.12 * height, "docs"))
    screen = ScreenWindow()
    screen.open_photo(str(copy))
    screen.window.export_view(out)
    screen.window.close()
    shutil.rmtree(folder, ignore_errors=True)


def join(before: str, after: str, out: str, height: int = 580) -> None:
    """Both at one height, each under its label, on white."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("DejaVuSans.ttf", 22)
    parts = []
    labels = ("Before: a grab of the view, {} × {} screen pixels", "After: the figure, {} × {}, the photo's own width")
    for path, label in zip((before, after), labels, strict=True):
        image = Image.open(path).convert("RGB")
        label = label.format(image.width, image.height)
        image = image.resize((round(image.width * height / image.height), height), Image.Resampling.LANCZOS)
        parts.append((image, label))
    gap, top = 24, 40
    sheet = Image.new("RGB", (sum(i.width for i, _ in parts) + gap * (len(parts) + 1), height + top + gap), "white")
    x = gap
    draw = ImageDraw.Draw(sheet)
    for image, label in parts:
        draw.text((x, 8), label, font=font, fill=(20, 20, 20))
        sheet.paste(image, (x, top))
        x += image.width + gap
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    if sys.argv[1] == "--join":
        join(*sys.argv[2:5])
    else:
        export(*sys.argv[1:3])
