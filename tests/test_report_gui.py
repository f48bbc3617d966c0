"""File ▸ Save report… (issue 20, item 13): the photo on screen as one HTML file, with the maps at the
panel's thresholds, the baselines computed so far and the P the window shows."""

from __future__ import annotations

import re

import pytest
from main_windows import make_window
from PySide6.QtWidgets import QMessageBox

from fundus_viewer.gui.report_actions import save_report
from tests.test_review import folder, open_and_wait  # noqa: F401 - the review window's fixtures

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


def test_save_report_writes_the_photo_on_screen(qtbot, tiny_checkpoint, folder, tmp_path, monkeypatch):  # noqa: F811
    window = make_window(qtbot, tiny_checkpoint)
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(a[2]))
    assert save_report(window, str(tmp_path / "none.html")) is None and "Open a photo" in told[0]
    assert not (tmp_path / "none.html").exists()

    open_and_wait(qtbot, window, folder / "a-eye.png")
    window.panel.theta_act.setValue(0.3)
    with qtbot.waitSignal(window.baseline_shown, timeout=30000):
        window.panel.pathology.setCurrentIndex(window.panel.pathology.findData("cam"))
    path = save_report(window, str(tmp_path / "a.html"))
    text = path.read_text(encoding="utf-8")
    assert "<h2>a-eye.png</h2>" in text
    assert f"<b>{window.analysis.probability:.3f} → " in text
    assert "θ act 0.30, θ CMI 0.10 – 0.90" in text
    captions = re.findall(r"<figcaption>([^<—]*)", text)
    assert [c.strip() for c in captions] == [
        "Photo",
        "Rim loss (RL, high CMI)",
        "RNFL defect (RNFLD, low CMI)",
        "CAM (baseline)",
    ]
    assert window.model_loaded.digest in text
    window.close()
