"""Annotate ▸ Export boxes as COCO JSON through the real window: every annotated photo of the folder gets
its own width and height (the upright size its boxes are drawn on), not only the photo on screen; a
photo whose size cannot be read is named in a message and nothing is written, never a null size."""

from __future__ import annotations

import json

import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from fundus_viewer.core.annotations import AnnotationStore, new_box

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def folder(tmp_path, make_fundus):
    Image.fromarray(make_fundus()).save(tmp_path / "shown.png")  # 600 x 420
    Image.fromarray(make_fundus(height=300, width=320, centre=(160, 150), radius=140)).save(tmp_path / "small.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 500 x 260, shown (and annotated) turned a quarter: 260 wide, 500 high
    Image.fromarray(make_fundus(height=260, width=500, centre=(250, 130), radius=120)).save(
        tmp_path / "turned.jpg", exif=exif
    )
    with AnnotationStore.for_folder(tmp_path) as store:
        for name in ("shown.png", "small.png", "turned.jpg"):
            store.add(new_box(name, "RL", 10, 20, 30, 40, "dr-ann"))
    return tmp_path


@pytest.fixture
def window(qtbot, tiny_checkpoint, folder):
    win = make_window(qtbot, tiny_checkpoint)
    with qtbot.waitSignal(win.analysis_shown, timeout=30000):
        win.open_photo(folder / "shown.png")
    yield win
    win.close()


def exported_sizes(path):
    coco = json.loads(path.read_text())
    return {image["file_name"]: (image["width"], image["height"]) for image in coco["images"]}


def test_every_annotated_photo_gets_its_true_size(window, folder, tmp_path):
    window.annotations.export_coco(str(tmp_path / "boxes.json"))
    assert exported_sizes(tmp_path / "boxes.json") == {
        "shown.png": (600, 420),
        "small.png": (320, 300),
        "turned.jpg": (260, 500),
    }


def test_a_photo_that_cannot_be_measured_is_named_and_nothing_is_written(window, folder, tmp_path, monkeypatch):
    (folder / "broken.png").write_bytes(b"not a picture at all" * 20)
    with AnnotationStore.for_folder(folder) as store:
        store.add(new_box("broken.png", "RNFLD", 1, 1, 5, 5, "dr-ann"))
        store.add(new_box("moved-away.png", "RL", 1, 1, 5, 5, "dr-ann"))
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    window.annotations.export_coco(str(tmp_path / "boxes.json"))
    assert not (tmp_path / "boxes.json").exists()
    (said,) = warnings
    assert "broken.png" in said and "moved-away.png" in said and "shown.png" not in said
