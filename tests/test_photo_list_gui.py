"""The folder list beside the view, driven by mouse and keyboard (#20 items 1 and 4)."""

import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtCore import Qt

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    win = make_window(qtbot, tiny_checkpoint, annotator=None)
    yield win
    win.close()


@pytest.fixture
def folder(tmp_path, make_fundus):
    for name in ("a.png", "c.png"):
        Image.fromarray(make_fundus()).save(tmp_path / name)
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (tmp_path / "d.jpg").write_bytes(b"")
    return tmp_path


def _row(window, name):
    return next(
        window.photos.item(r) for r in range(window.photos.count()) if window.photos.item(r).text().find(name) >= 0
    )


def _click(qtbot, window, name):
    item = _row(window, name)
    rect = window.photos.visualItemRect(item)
    qtbot.mouseClick(window.photos.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_one_click_on_a_photo_opens_it(qtbot, window, folder, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "warning", lambda *a: None)
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.open_photo(folder / "a.png")
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        _click(qtbot, window, "c.png")
    assert window.photo.name == "c.png"
    assert window.photos.currentItem() is _row(window, "c.png")
    # the list's arrow keys open too: the photo highlighted is the photo shown
    window.photos.setFocus()
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        qtbot.keyClick(window.photos, Qt.Key.Key_Home)
    assert window.photo.name == "a.png"


def test_unreadable_photos_are_marked_and_stepped_past(qtbot, window, folder, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.open_photo(folder / "a.png")
    window.step_photo(1)  # b.jpg: the one dialog, and the row says why
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert "b.jpg" in shown[0]
    assert _row(window, "b.jpg").text().startswith("⚠")
    assert "b.jpg" in _row(window, "b.jpg").toolTip() and "cannot be opened" in _row(window, "b.jpg").toolTip()
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.step_photo(1)  # on to c.png, not b.jpg again
    assert window.photo.name == "c.png" and len(shown) == 1
    window.step_photo(1)  # d.jpg is empty: said so, in words
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=30000)
    assert "d.jpg" in shown[1] and "empty" in shown[1]
    assert _row(window, "d.jpg").text().startswith("⚠")
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.step_photo(-1)  # back past d.jpg? no: from d.jpg back to c.png
    assert window.photo.name == "c.png"
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.step_photo(-1)  # and past the marked b.jpg, without its dialog again
    assert window.photo.name == "a.png" and len(shown) == 2


def test_a_folder_whose_first_photo_is_unreadable_is_listed_and_stepped_through(qtbot, window, tmp_path, make_fundus):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    QMessageBox_warning = QMessageBox.warning
    QMessageBox.warning = lambda parent, title, text: shown.append(text)
    try:
        folder = tmp_path / "mac"
        folder.mkdir()
        (folder / "._eye.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # sorts first
        Image.fromarray(make_fundus()).save(folder / "eye.png")
        window.open_folder(folder)
        qtbot.waitUntil(lambda: bool(shown), timeout=30000)
        assert window.photos.count() == 2 and _row(window, "._eye.jpg").text().startswith("⚠")
        with qtbot.waitSignal(window.analysis_shown, timeout=30000):
            window.step_photo(1)
        assert window.photo.name == "eye.png"
    finally:
        QMessageBox.warning = QMessageBox_warning


def test_a_bad_photo_elsewhere_marks_its_own_folder_not_a_namesake(qtbot, window, folder, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.open_photo(folder / "a.png")
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").write_bytes(b"not a png")
    window.open_photo(other / "a.png")
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    marked = [window.photos.item(r).data(Qt.ItemDataRole.UserRole) for r in range(window.photos.count())]
    assert marked == [str(other / "a.png")]  # the list shows the folder of the photo asked for
    assert window.photos.item(0).text().startswith("⚠")


def test_refreshing_the_list_keeps_the_shown_photo_highlighted_and_opens_nothing(qtbot, window, folder, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "warning", lambda *a: None)
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.open_photo(folder / "c.png")
    asked = []
    window.request_open.connect(lambda job, path: asked.append(path))
    window.photos.show_folder(folder, window.annotations.status)  # as after a COCO import
    assert window.photos.currentItem() is _row(window, "c.png")
    window.photos.itemActivated.emit(_row(window, "c.png"))  # Enter on the photo shown: nothing to redo
    qtbot.wait(100)
    assert asked == []
