"""A map with nothing to show says so on screen, in the title over the photo and beside it (#20 item 6)."""

import dataclasses

import numpy as np
import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtCore import Qt

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def window(qtbot, tiny_checkpoint, tmp_path, make_fundus):
    win = make_window(qtbot, tiny_checkpoint, annotator=None)
    Image.fromarray(make_fundus()).save(tmp_path / "eye.png")
    with qtbot.waitSignal(win.analysis_shown, timeout=30000):
        win.open_photo(tmp_path / "eye.png")
    yield win
    win.close()


def _title(view) -> str:
    return view.plot.titleLabel.text


def test_an_all_zero_baseline_says_it_found_no_evidence(qtbot, window):
    with qtbot.waitSignal(window.baseline_shown, timeout=60000):
        window.panel.pathology.setCurrentIndex(window.panel.pathology.findData("cam"))
    cam = window.baselines["cam"]
    assert "no positive evidence" not in window.panel.counts.text()
    zero = dataclasses.replace(cam, map=dataclasses.replace(cam.map, grid=np.zeros_like(cam.map.grid)))
    window.baselines["cam"] = zero
    with qtbot.waitSignal(window.redrawn, timeout=5000):
        window.redraw()
    assert "CAM found no positive evidence on this photo" in window.panel.counts.text()
    assert "no positive evidence" in _title(window.view)


def test_no_layer_ticked_says_so_and_shows_no_stale_map(qtbot, window):
    layers = window.panel.layers
    assert window.view.shown_heat is not None and "active" in window.panel.counts.text()
    with qtbot.waitSignal(window.redrawn, timeout=5000):
        for row in range(layers.count()):
            layers.item(row).setCheckState(Qt.CheckState.Unchecked)
    assert "No layer chosen" in window.panel.counts.text()
    assert "active" not in window.panel.counts.text()
    assert window.view.shown_heat is None
    assert "no layer chosen" in _title(window.view)
    with qtbot.waitSignal(window.redrawn, timeout=5000):
        window.panel.theta_act.setValue(0.3)  # a slider moved meanwhile brings no old map back
    assert window.view.shown_heat is None and "No layer chosen" in window.panel.counts.text()
