"""File ▸ Export view as PNG… through the real window: the figure of what is on screen (the photo at its
own size, the map(s), the boxes, a caption with P and the thresholds, the caption in the PNG), not a
screen grab of the view."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from fundus_viewer.core.annotations import AnnotationStore, new_box

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def window(qtbot, tiny_checkpoint, tmp_path, make_fundus):
    with AnnotationStore.for_folder(tmp_path) as store:
        store.add(new_box("eye.png", "RL", 100, 80, 60, 40, "dr-ann"))
    Image.fromarray(make_fundus()).save(tmp_path / "eye.png")
    win = make_window(qtbot, tiny_checkpoint)
    with qtbot.waitSignal(win.analysis_shown, timeout=30000):
        win.open_photo(tmp_path / "eye.png")
    yield win
    win.close()


def export_through_the_menu(window, monkeypatch, path):
    (action,) = [a for a in window.findChildren(QAction) if a.text() == "Export &view as PNG…"]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), "PNG (*.png)"))
    action.trigger()
    assert path.is_file()
    with Image.open(path) as png:
        return np.asarray(png.convert("RGB")), dict(png.text)


def test_export_view_writes_the_figure_not_a_screen_grab(qtbot, window, monkeypatch, tmp_path):
    pixels, text = export_through_the_menu(window, monkeypatch, tmp_path / "view.png")
    photo, loaded = window.photo, window.model_loaded
    assert pixels.shape[1] == photo.width == 600 and pixels.shape[0] > photo.height  # not the 1200 x 800 window
    description = text["Description"]
    assert text["Title"] == "eye.png"
    for said in (
        f"P(glaucoma) {window.analysis.probability:.3f}",
        "Map: Rim loss (RL, high CMI)",
        "θ act 0.10 · θ CMI 0.10–0.90 · CMI scaled by rank",
        f"{window.panel.colormap.currentText()} at opacity 0.60",
        "boxes: 1 RL",
        f"Model tiny.safetensors (alexnet, 227 px) · sha256 {loaded.digest[:12]}",
    ):
        assert said in description
    heat = window._heatmaps().maps["rl"].full()
    cold = (heat == 0) & (np.arange(photo.width)[None, :] > 200)  # away from the box
    cold[:40] = cold[-40:] = False  # and from the analysed square's faint outline
    assert cold.sum() > 1000
    # where the map has no heat the photo's own pixels, unchanged (below the map's title)
    top = next(t for t in range(100) if np.array_equal(pixels[t : t + photo.height][cold], photo.rgb[cold]))
    assert tuple(pixels[top + 100, 100]) == (0, 229, 255)  # the box's left edge, in the window's RL colour


def test_side_by_side_exports_both_maps(qtbot, window, monkeypatch, tmp_path):
    with qtbot.waitSignal(window.redrawn, timeout=10000):
        window.panel.side_by_side.setChecked(True)
    pixels, text = export_through_the_menu(window, monkeypatch, tmp_path / "both.png")
    assert pixels.shape[1] == 2 * 600 + 6
    assert "Maps: left Rim loss (RL, high CMI), right RNFL defect (RNFLD, low CMI)" in text["Description"]


def test_the_figure_says_the_windows_call_for_a_p_just_below_the_threshold(qtbot, window, monkeypatch, tmp_path):
    """P = threshold - 4e-7 reads as the threshold when rounded, yet the model calls it normal; the
    figure gives the window's call, not one remade from the rounded P."""
    model = window.model_loaded.model
    threshold = model.calibration.threshold
    window.analysis = dataclasses.replace(window.analysis, probability=threshold - 4e-7)
    assert not model.calls_glaucoma(window.analysis.probability)
    window._show_result()
    assert "→ normal" in window.statusBar().currentMessage()
    _, text = export_through_the_menu(window, monkeypatch, tmp_path / "below.png")
    assert f"P(glaucoma) {threshold:.3f} → normal (call at P ≥ {threshold:.2f})" in text["Description"]
