"""The threshold sliders (#20 items 8 and 12): a drag lands on the value its label shows (what the CLI
would be given), the paper's thresholds are one click away, a baseline greys out the thresholds it does
not use, and the colour map is remembered."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLineEdit, QSlider

from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS
from fundus_viewer.gui.controls import ThresholdPanel

pytestmark = pytest.mark.usefixtures("isolated_settings")


@pytest.fixture
def panel(qtbot):
    widget = ThresholdPanel()
    qtbot.addWidget(widget)
    widget.resize(360, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def drag_slider(qtbot, labelled, pixels: int) -> None:
    """A mouse drag of the slider's handle by ``pixels`` to the right."""
    slider = labelled.findChild(QSlider)
    span = slider.width()
    start = QPoint(round(span * (slider.value() - slider.minimum()) / (slider.maximum() - slider.minimum())), 5)
    start.setX(max(4, min(span - 4, start.x())))
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 8):
        qtbot.mouseMove(slider, QPoint(start.x() + pixels * step // 7, 5))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(start.x() + pixels, 5))


def test_a_drag_lands_on_the_value_its_label_shows(qtbot, panel):
    values = []
    panel.theta_act.valueChanged.connect(values.append)
    drag_slider(qtbot, panel.theta_act, 37)
    theta = panel.theta_act.value()
    assert theta != DEFAULT_THRESHOLDS.theta_act and values  # it moved
    label = panel.theta_act.findChild(QLineEdit)
    assert theta == round(theta, 2)  # on the label's step, not 0.1034…
    assert label.text() == f"{theta:.2f}"
    assert panel.thresholds()[0] == float(label.text())  # what the maps and Table 1 use = what is shown
    assert panel.thresholds_object().theta_act == float(label.text())


def test_reset_gives_the_papers_thresholds(qtbot, panel):
    panel.theta_act.setValue(0.37)
    panel.cmi.setValue((0.23, 0.71))
    panel.normalization.setCurrentIndex(1)
    qtbot.mouseClick(panel.reset, Qt.MouseButton.LeftButton)
    assert panel.thresholds_object() == DEFAULT_THRESHOLDS


def test_a_typed_value_between_steps_is_snapped(qtbot, panel):
    panel.cmi.setValue((0.1234, 0.8766))  # as a drag of the range slider leaves it
    assert panel.cmi.value() == (0.12, 0.88)
    assert panel.thresholds()[1:] == (0.12, 0.88)


def test_baselines_grey_out_the_thresholds_they_do_not_use(qtbot, panel):
    assert panel.theta_act.isEnabled() and panel.cmi.isEnabled()
    panel.pathology.setCurrentIndex(panel.pathology.findData("cam"))
    assert not panel.theta_act.isEnabled() and not panel.cmi.isEnabled() and not panel.reset.isEnabled()
    assert panel.opacity.isEnabled()  # the overlay's own control still applies
    panel.pathology.setCurrentIndex(0)
    assert panel.theta_act.isEnabled()


def test_the_colour_map_is_remembered(qtbot, panel):
    panel.colormap.setCurrentText("cividis")
    again = ThresholdPanel()
    qtbot.addWidget(again)
    assert again.colormap.currentText() == "cividis"
