"""The small things a first session meets (#20 item 12): where the file dialogs open, the hint in the
empty window, Open recent listing folders, and a model card for every bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QTextBrowser

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
