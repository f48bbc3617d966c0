"""File ▸ Preferences… (issue 20, item 13): the annotator, the colour map and the default thresholds, set
through the dialog's own widgets. OK applies them to the open window and a new window starts with them (a
rename takes one's boxes along, as Annotator name… does); Cancel changes nothing; the reset button still
gives the paper's thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest
from main_windows import make_window
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from fundus_viewer.core.annotations import AnnotationStore, new_box
from fundus_viewer.core.visualization.selection import Thresholds
from fundus_viewer.gui import preferences
from fundus_viewer.gui.preferences_dialog import PreferencesDialog
from tests.test_review import folder, open_and_wait  # noqa: F401 - the review window's fixtures

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


def answer_preferences(name: str, colormap: str, theta_act: float, ok: bool = True) -> dict:
    """Fill the dialog in once it is up, as a user would, and press OK (or Cancel)."""
    seen: dict = {}

    def answer(tries: int = 200) -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PreferencesDialog):
            if tries:
                QTimer.singleShot(20, lambda: answer(tries - 1))
            return
        choice = dialog.annotator
        choice.name.lineEdit().clear()
        choice.name.lineEdit().insert(name)
        seen["offered"] = {
            choice.others.item(i).data(Qt.ItemDataRole.UserRole): choice.others.item(i).checkState()
            == Qt.CheckState.Checked
            for i in range(choice.others.count())
            if not choice.others.item(i).isHidden()
        }
        dialog.colormap.setCurrentText(colormap)
        dialog.theta_act.lineEdit().selectAll()
        dialog.theta_act.lineEdit().insert(f"{theta_act:.2f}")
        dialog.theta_act.interpretText()
        button = QDialogButtonBox.StandardButton.Ok if ok else QDialogButtonBox.StandardButton.Cancel
        dialog.buttons.button(button).click()

    QTimer.singleShot(0, answer)
    return seen


def preferences_action(window):
    (action,) = [a for a in window.findChildren(QAction) if a.text() == "&Preferences…"]
    assert action.shortcut().toString() == "Ctrl+,"
    return action


def test_ok_applies_the_preferences_and_a_new_window_starts_with_them(qtbot, tiny_checkpoint, folder):  # noqa: F811
    with AnnotationStore.for_folder(folder) as store:
        mine = store.add(new_box("a-eye.png", "RL", 20, 20, 40, 40, "dr-old"))
    window = make_window(qtbot, tiny_checkpoint, annotator="dr-old")
    open_and_wait(qtbot, window, folder / "a-eye.png")
    assert window.panel.colormap.currentText() == "inferno" and window.panel.thresholds()[0] == 0.1

    seen = answer_preferences("Dr New", "viridis", 0.25)
    preferences_action(window).trigger()
    assert seen["offered"] == {"dr-old": True}  # the old name's boxes offered for taking over, ticked
    assert window.panel.colormap.currentText() == "viridis"  # applied to the open window
    assert window.panel.thresholds() == (0.25, 0.1, 0.9)
    assert window.annotations.annotator == "Dr New"
    assert window.view.boxes.items[mine.box_id].box.annotator == "Dr New"
    assert window.view.boxes.items[mine.box_id].editable
    with AnnotationStore.for_folder(folder) as store:
        assert store.annotators() == {"Dr New": 1}
    window.close()

    again = make_window(qtbot, tiny_checkpoint, annotator=None)  # what a new window starts with
    assert again.annotations.annotator == "Dr New"
    assert again.panel.colormap.currentText() == "viridis"
    assert again.panel.thresholds_object().theta_act == 0.25
    again.panel.reset.click()  # "Reset to the paper's thresholds" is still the paper's
    assert again.panel.thresholds() == (0.1, 0.1, 0.9)
    again.close()


def test_cancel_changes_nothing(qtbot, tiny_checkpoint, folder):  # noqa: F811
    window = make_window(qtbot, tiny_checkpoint, annotator="dr-ann")
    before = {key: QSettings().value(key) for key in QSettings().allKeys() if not key.startswith("main/")}
    answer_preferences("Someone Else", "cividis", 0.5, ok=False)
    preferences_action(window).trigger()
    assert window.annotations.annotator == "dr-ann"
    assert window.panel.colormap.currentText() == "inferno" and window.panel.thresholds()[0] == 0.1
    assert {key: QSettings().value(key) for key in QSettings().allKeys() if not key.startswith("main/")} == before
    window.close()
    again = make_window(qtbot, tiny_checkpoint, annotator=None)
    assert again.annotations.annotator == "dr-ann" and again.panel.thresholds()[0] == 0.1
    again.close()


def test_thresholds_read_back_from_the_settings_file_are_the_numbers_written_or_the_papers():
    """After a restart QSettings reads its INI text: 0.3 is 0.3 (not the float32 0.30000001192), and a
    value that is no number is the paper's, not 0 (θ act 0 would make every map active)."""
    path = Path(QSettings().fileName())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[thresholds]\ntheta_act=0.3\ncmi_low=abc\ncmi_high=0.85\ncmi_normalization=max\n")
    QSettings().sync()  # (read afresh: the file is newer than any cached copy)
    assert preferences.thresholds() == Thresholds(0.3, 0.1, 0.85, "max")
    assert preferences.thresholds().theta_act == 0.3
    path.write_text("[thresholds]\ntheta_act=0.95\ncmi_low=0.9\ncmi_high=0.2\n")  # low above high
    QSettings().sync()
    assert preferences.thresholds() == Thresholds()
