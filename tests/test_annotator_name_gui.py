"""Who is drawing (issue 20, item 3): the name is asked at the first box, never taken from the OS login, and
a user who renames themselves takes their own earlier boxes along instead of finding them read-only."""

from __future__ import annotations

import getpass

import pytest
from main_windows import make_window
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from fundus_viewer.core.annotations import AnnotationStore, new_box
from fundus_viewer.gui.annotator_dialog import AnnotatorDialog
from tests.test_review import drag, folder, open_and_wait  # noqa: F401 - the review window's fixtures

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


def answer_name_dialog(name: str | None, untick: tuple[str, ...] = ()) -> dict:
    """Answer the annotator dialog once it is up, as a user would: type the name, untick, OK (or Cancel
    for ``None``). Returns what the dialog showed: its text and the names ticked for taking over."""
    seen: dict = {}

    def answer(tries: int = 200) -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, AnnotatorDialog):
            if tries and not seen.get("stop"):
                QTimer.singleShot(20, lambda: answer(tries - 1))
            return
        seen["intro"] = dialog.findChildren(type(dialog.others_label))[0].text()
        seen["offered"] = {
            dialog.others.item(i).data(Qt.ItemDataRole.UserRole): dialog.others.item(i).checkState()
            == Qt.CheckState.Checked
            for i in range(dialog.others.count())
        }
        if name is None:
            dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
            return
        dialog.name.lineEdit().clear()
        dialog.name.lineEdit().insert(name)
        for i in range(dialog.others.count()):
            item = dialog.others.item(i)
            if item.data(Qt.ItemDataRole.UserRole) in untick:
                item.setCheckState(Qt.CheckState.Unchecked)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    QTimer.singleShot(0, answer)
    return seen


def draw_one(qtbot, window):
    window.annotations.draw_rl.trigger()
    drag(window, (100, 80), (220, 200))


def test_the_first_box_asks_for_the_name_and_cancel_draws_nothing(qtbot, tiny_checkpoint, folder):  # noqa: F811
    window = make_window(qtbot, tiny_checkpoint, annotator=None)
    open_and_wait(qtbot, window, folder / "a-eye.png")
    assert window.annotations.annotator == ""  # not the OS login
    seen = answer_name_dialog(None)
    draw_one(qtbot, window)
    assert "first box" in seen["intro"]
    assert window.view.boxes.items == {}
    with AnnotationStore.for_folder(folder) as store:
        assert store.boxes() == []  # cancelled: nothing recorded under any name

    seen = answer_name_dialog("Dr Newcomer")
    drag(window, (100, 80), (220, 200))
    (item,) = window.view.boxes.items.values()
    assert item.box.annotator == "Dr Newcomer" and item.editable
    assert QSettings().value("annotate/annotator") == "Dr Newcomer"
    unasked = answer_name_dialog("never asked")  # asked once: the next box just draws
    drag(window, (300, 200), (360, 260))
    unasked["stop"] = True
    assert "intro" not in unasked
    assert {i.box.annotator for i in window.view.boxes.items.values()} == {"Dr Newcomer"}
    window.close()


def test_renaming_takes_ones_own_boxes_along_and_leaves_a_colleagues(qtbot, tiny_checkpoint, folder, monkeypatch):  # noqa: F811
    with AnnotationStore.for_folder(folder) as store:
        colleague = store.add(new_box("a-eye.png", "RNFLD", 20, 20, 40, 40, "dr-bob"))
    window = make_window(qtbot, tiny_checkpoint, annotator="dr-ann")
    open_and_wait(qtbot, window, folder / "a-eye.png")
    draw_one(qtbot, window)
    window.annotations.set_reviewed(True)
    mine = next(i.box for i in window.view.boxes.items.values() if i.box.annotator == "dr-ann")

    seen = answer_name_dialog("Dr Newcomer")
    window.annotations.rename.trigger()
    assert seen["offered"] == {"dr-ann": True, "dr-bob": False}  # one's own old name ticked, a colleague's not
    items = window.view.boxes.items
    assert items[mine.box_id].box.annotator == "Dr Newcomer" and items[mine.box_id].editable
    assert items[colleague.box_id].box.annotator == "dr-bob" and not items[colleague.box_id].editable
    with AnnotationStore.for_folder(folder) as store:
        assert store.annotators() == {"Dr Newcomer": 1, "dr-bob": 1}
        assert store.reviewers("a-eye.png") == ["Dr Newcomer"]
    assert window.annotations.reviewed.isChecked()

    window.view.boxes.select(mine.box_id)
    window.annotations.delete_selected()  # one's own box, under the new name: deletable
    assert mine.box_id not in window.view.boxes.items
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(a[2]))
    window.view.boxes.select(colleague.box_id)
    window.annotations.delete_selected()
    assert colleague.box_id in window.view.boxes.items and "Annotator name" in told[0]
    window.close()


def test_boxes_an_older_version_recorded_under_the_login_are_offered_at_the_first_box(
    qtbot,
    tiny_checkpoint,
    folder,  # noqa: F811
):
    login = getpass.getuser()
    with AnnotationStore.for_folder(folder) as store:
        old = store.add(new_box("a-eye.png", "RL", 20, 20, 40, 40, login))
    window = make_window(qtbot, tiny_checkpoint, annotator=None)
    open_and_wait(qtbot, window, folder / "a-eye.png")
    assert not window.view.boxes.items[old.box_id].editable
    seen = answer_name_dialog("Dr Newcomer")
    draw_one(qtbot, window)
    assert seen["offered"] == {login: True}
    assert {i.box.annotator for i in window.view.boxes.items.values()} == {"Dr Newcomer"}
    assert window.view.boxes.items[old.box_id].editable
    # in another folder the earlier name is remembered as one's own, ticked again
    assert QSettings().value("annotate/former_names", [], type=list) == [login]
    window.close()
