"""The small things a first session meets (#20 item 12): where the file dialogs open, the hint in the
empty window, Open recent listing folders, and a model card for every bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QLabel, QMenu, QTextBrowser

from fundus_viewer.core.resources import models_dir

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    win = make_window(qtbot, tiny_checkpoint)
    yield win
    win.close()


@pytest.fixture
def folder(tmp_path, make_fundus):
    photos = tmp_path / "photos"
    photos.mkdir()
    for k, name in enumerate(("a-eye.png", "b-eye.png", "c-eye.png")):
        Image.fromarray(make_fundus(seed=k)).save(photos / name)
    return photos


def open_and_wait(qtbot, window, path):
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        assert window.open_photo(path)


@pytest.fixture
def asked(monkeypatch):
    """Each file dialog's start folder (its third argument); every dialog is cancelled."""
    starts = []

    def fake(result):
        return lambda _parent, _caption, start="", *_a, **_k: starts.append(start) or result

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake(("", ""))))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake(("", ""))))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(fake("")))
    return starts


def test_file_dialogs_open_beside_the_photo_on_screen(qtbot, window, folder, asked):
    open_and_wait(qtbot, window, folder / "b-eye.png")
    window.choose_photo()
    window.choose_folder()
    window.choose_model()
    window.annotations.import_coco()
    assert [Path(s) for s in asked] == [folder, folder, folder, folder]


def test_without_a_photo_a_dialog_opens_where_the_last_of_its_kind_did(qtbot, window, tmp_path, asked, monkeypatch):
    window.choose_model()
    assert Path(asked[-1]) != Path.cwd() and Path(asked[-1]).is_dir()  # Pictures or home, never ""
    models = tmp_path / "my-models"
    models.mkdir()
    (models / "mine.safetensors").write_bytes(b"")
    monkeypatch.setattr(window, "open_model", lambda _path: None)
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileName",
        staticmethod(lambda _p, _c, start="", *_a, **_k: asked.append(start) or (str(models / "mine.safetensors"), "")),
    )
    window.choose_model()  # chosen: remembered for the next "model" dialog
    window.choose_model()
    assert Path(asked[-1]) == models


def test_with_a_photo_open_a_model_dialog_still_opens_where_models_were(
    qtbot, window, folder, tmp_path, asked, monkeypatch
):
    models = tmp_path / "my-models"
    models.mkdir()
    QSettings().setValue("dialogs/model", str(models))
    open_and_wait(qtbot, window, folder / "b-eye.png")
    window.choose_model()
    window.choose_photo()
    assert [Path(s) for s in asked] == [models, folder]  # a model is not kept beside the photos


def hints(window) -> list[str]:
    """The text shown over the photo view (not in a dock or the status bar)."""
    return [label.text() for label in window.view.findChildren(QLabel) if label.isVisible()]


def test_the_empty_window_says_how_to_open_a_photo(qtbot, window, folder):
    [hint] = hints(window)
    assert "Ctrl+O" in hint and "Ctrl+Shift+O" in hint and "drop" in hint and "sample photo" in hint
    open_and_wait(qtbot, window, folder / "a-eye.png")
    assert hints(window) == []


def test_the_hint_names_the_keys_the_open_actions_have(qtbot, tiny_checkpoint):
    """Open photo is the platform's Open key (⌘O on macOS, not Ctrl+O): the hint says what the menu has."""
    from PySide6.QtGui import QKeySequence

    from fundus_viewer.gui.main_window import MainWindow

    win = MainWindow(str(tiny_checkpoint), "cpu")
    qtbot.addWidget(win)
    opener = next(a for a in win.findChildren(QAction) if a.text() == "&Open photo…")
    opener.setShortcut(QKeySequence("Ctrl+Alt+P"))  # as another platform's Open key would be
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: "alexnet" in win.device_label.text(), timeout=30000)
    [hint] = hints(win)
    assert "Open a photo (Ctrl+Alt+P)" in hint and "Ctrl+O" not in hint
    assert "folder of photos (Ctrl+Shift+O)" in hint
    win.close()


def test_open_recent_lists_the_folder_once_and_returns_to_its_last_photo(qtbot, window, folder, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    Image.open(folder / "a-eye.png").save(other / "x-eye.png")
    open_and_wait(qtbot, window, other / "x-eye.png")
    open_and_wait(qtbot, window, folder / "a-eye.png")
    for _ in range(2):  # Page Down through the folder
        with qtbot.waitSignal(window.analysis_shown, timeout=30000):
            window.step_photo(1)
    assert window.photo.name == "c-eye.png"
    entries = [a.text() for a in window.recent_menu.actions()]
    assert entries == [str(folder), str(other)]  # three photos stepped through: one folder
    open_and_wait(qtbot, window, other / "x-eye.png")
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        next(a for a in window.recent_menu.actions() if a.text() == str(folder)).trigger()
    assert window.photo.name == "c-eye.png"  # back where the user was in that folder
    (other / "x-eye.png").unlink()
    other.rmdir()
    window._fill_recent()
    gone = next(a for a in window.recent_menu.actions() if a.text() == str(other))
    assert not gone.isEnabled()


def test_help_offers_every_bundled_models_card(qtbot, window):
    [help_menu] = [m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Help"]
    [menu] = [m for m in help_menu.findChildren(QMenu) if m.title() == "&Model cards"]
    assert menu.menuAction() in help_menu.actions()
    menu.aboutToShow.emit()
    labels = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    bundled = [
        "Classifier (glaucoma)",
        "Cup/disc segmenter",
        "Vessel segmenter",
        "Patho-GAN generator",
        "GAN baseline generator",
    ]
    assert labels[1:] == bundled and labels[0].startswith("Loaded classifier: ")  # a user model is loaded
    for label, stem in zip(bundled, ("classifier", "cup-disc", "vessels", "patho-gan", "gan-baseline"), strict=True):
        next(a for a in menu.actions() if a.text().replace("&", "") == label).trigger()
        card = window._model_card
        assert card.windowTitle() == f"Model card — {stem}.safetensors"
        heading = (models_dir() / f"{stem}.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
        assert heading.replace("`", "") in card.findChild(QTextBrowser).toPlainText()
        card.close()


def test_photos_menus_and_dialogs_leave_no_qt_objects_behind(qtbot, window, folder):
    """Each photo refills Open recent and each look at Help ▸ Model cards refills that menu; the sheet, a
    card and Preferences are made at each opening. None of them may pile up under the window."""

    def settled() -> tuple[int, int]:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        return len(window.findChildren(QAction)), len(window.findChildren(QDialog))

    (preferences,) = [a for a in window.findChildren(QAction) if a.text() == "&Preferences…"]
    open_and_wait(qtbot, window, folder / "a-eye.png")
    window.model_cards_menu.aboutToShow.emit()
    before = settled()
    for step in (1, 1, -1, -1, 1):  # Page Down / Page Up
        with qtbot.waitSignal(window.analysis_shown, timeout=30000):
            window.step_photo(step)
        window.model_cards_menu.aboutToShow.emit()
        window.show_shortcuts().close()  # F1, then its Close
        window.show_model_card()  # Help ▸ Model cards, then closed
        for card in [d for d in window.findChildren(QDialog) if d.windowTitle().startswith("Model card")]:
            card.close()
        QTimer.singleShot(0, lambda: QApplication.activeModalWidget().reject())  # File ▸ Preferences…, Cancel
        preferences.trigger()
    assert window.photo.name == "b-eye.png"
    assert settled() == before
