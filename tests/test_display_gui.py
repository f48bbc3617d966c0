"""Through the review window: the display adjustment changes the pixels on screen only, and Help ▸ Keyboard
shortcuts lists the menus' keys as they are (#20 item 13)."""

from __future__ import annotations

import numpy as np
import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget

from fundus_viewer.core.study.store import RatingSession, StudyFile
from fundus_viewer.gui.rating_window import RatingWindow
from tests.test_rating import study_path  # noqa: F401 - a small study's fixture

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def photos(tmp_path, make_fundus):
    rgb = make_fundus()
    rgb[..., 1] = np.clip(rgb[..., 1].astype(int) + np.arange(rgb.shape[1])[None, :] % 40, 0, 255)  # G != R, B
    Image.fromarray(rgb).save(tmp_path / "a-eye.png")
    Image.fromarray(make_fundus(seed=3)).save(tmp_path / "b-eye.png")
    return tmp_path


@pytest.fixture
def window(qtbot, tiny_checkpoint, photos):
    win = make_window(qtbot, tiny_checkpoint, annotator=None)
    with qtbot.waitSignal(win.analysis_shown, timeout=30000):
        win.open_photo(photos / "a-eye.png")
    yield win
    win.close()


def _shown(view) -> np.ndarray:
    return np.array(view.photo.image, copy=True)  # the uint8 RGB pixels the photo item draws


def test_brightness_changes_the_pixels_on_screen_not_the_probability_or_the_maps(qtbot, window):
    window.panel.side_by_side.setChecked(True)  # both views
    qtbot.waitUntil(lambda: window.view2.isVisible() and window.view2.shown_heat is not None, timeout=5000)
    before, before2 = _shown(window.view), _shown(window.view2)
    analysis, probability = window.analysis, window.analysis.probability
    heat = window.view.shown_heat[0].copy()
    exported = {key: m.grid.copy() for key, m in window.current_maps().maps.items()}
    status = window.panel.result.text()

    window.display_controls.sliders["brightness"].setValue(0.3)

    after = _shown(window.view)
    assert after.shape == before.shape and after.mean() > before.mean() + 40  # about 0.3 * 255 brighter
    assert _shown(window.view2).mean() > before2.mean() + 40  # the RNFLD view too
    assert window.analysis is analysis and window.analysis.probability == probability
    assert np.array_equal(window.view.shown_heat[0], heat)
    assert all(np.array_equal(m.grid, exported[key]) for key, m in window.current_maps().maps.items())
    assert window.panel.result.text() == status
    window.display_controls.reset.click()
    assert np.array_equal(_shown(window.view), before)


def test_red_free_shows_the_green_channel_and_stays_for_the_next_photo_of_the_session(
    qtbot, window, photos, tiny_checkpoint
):
    colour = _shown(window.view)
    assert not np.array_equal(colour[..., 0], colour[..., 1])
    action = window.red_free_action
    assert action.shortcut() == QKeySequence("Ctrl+R") and action.isCheckable()
    action.trigger()  # View ▸ Red-free (Ctrl+R)
    grey = _shown(window.view)
    for channel in range(3):
        assert np.array_equal(grey[..., channel], colour[..., 1])
    assert window.display_controls.red_free.isChecked()
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.step_photo(1)  # PgDown: the next photo is red-free too
    shown = _shown(window.view)
    assert np.array_equal(shown[..., 0], shown[..., 1]) and np.array_equal(shown[..., 1], shown[..., 2])
    window.display_controls.red_free.setChecked(False)  # the checkbox and the menu agree
    assert not action.isChecked()
    assert not np.array_equal(_shown(window.view)[..., 0], _shown(window.view)[..., 1])
    window.red_free_action.trigger()
    window.close()
    again = make_window(qtbot, tiny_checkpoint, annotator=None)  # a new session starts in colour
    assert not again.red_free_action.isChecked() and not again.display_controls.red_free.isChecked()
    again.close()


def test_the_shortcuts_sheet_lists_the_menus_keys_and_a_new_action(qtbot, window):
    sheet = window.show_shortcuts()
    text = sheet.text.toPlainText()
    for key, action in (("Ctrl+O", "Open photo…"), ("PgDown", "Next photo"), ("Ctrl+R", "Red-free")):
        assert key in text and action in text
    assert ("File", "Open photo…", ["Ctrl+O"]) in sheet.rows
    assert any(keys == ["F1", "Ctrl+/"] and menu == "Help" for menu, _a, keys in sheet.rows)
    assert "Wheel" in text and "Rating screen" in text  # the fixed sections
    assert all(keys in text and what in text for keys, what, _qt in RatingWindow.KEYS)
    assert "Ctrl+Alt+J" not in text
    sheet.close()

    view = next(a for a in window.menuBar().actions() if a.text() == "&View")
    view_menu = view.menu()  # (while its action's wrapper lives: PySide ties the two)
    view_menu.addAction(QAction("Something &new", window, shortcut=QKeySequence("Ctrl+Alt+J")))
    view_menu.addAction(QAction("Also next", window, shortcut=QKeySequence("PgDown")))
    sheet = window.show_shortcuts()
    assert ("View", "Something new", ["Ctrl+Alt+J"]) in sheet.rows
    assert "Ctrl+Alt+J" in sheet.text.toPlainText()
    assert sheet.text.toPlainText().count("PgDown ⚠") == 2  # a clash is marked
    assert "a key on two actions" in sheet.text.toPlainText()
    sheet.close()


def test_red_free_chosen_before_the_display_controls_exist_is_what_they_show(qtbot, tiny_checkpoint, photos):
    from fundus_viewer.gui.main_window import MainWindow

    win = MainWindow(str(tiny_checkpoint), "cpu")  # unshown: its controls come at the next turn of the loop
    qtbot.addWidget(win)
    assert win.display_controls is None
    win.red_free_action.trigger()  # Ctrl+R while the window is still starting
    assert win.red_free_action.isChecked()
    qtbot.waitUntil(lambda: win.display_controls is not None, timeout=5000)
    assert win.display_controls.red_free.isChecked()  # menu and view agree
    qtbot.waitUntil(lambda: "alexnet" in win.device_label.text(), timeout=30000)
    with qtbot.waitSignal(win.analysis_shown, timeout=30000):
        win.open_photo(photos / "a-eye.png")
    shown = _shown(win.view)
    assert np.array_equal(shown[..., 0], shown[..., 1]) and np.array_equal(shown[..., 1], shown[..., 2])
    win.close()


def test_every_key_the_sheet_lists_for_the_rating_screen_is_one_it_handles(qtbot, study_path, monkeypatch):  # noqa: F811
    """The sheet's rating keys come from RatingWindow.KEYS: each key there must reach an action of _key,
    not fall through to QWidget (where a key nobody handles ends)."""
    unhandled = []
    monkeypatch.setattr(QWidget, "keyPressEvent", lambda _self, event: unhandled.append(event.key()))
    with StudyFile(study_path) as study:
        rating = RatingWindow(RatingSession(study, "dr-ann"))
        qtbot.addWidget(rating)
        rating.show()
        qtbot.waitExposed(rating)
        texts = {Qt.Key.Key_Plus: "+", Qt.Key.Key_Minus: "-"}
        listed = [key for _keys, _what, qt_keys in RatingWindow.KEYS for key in qt_keys]
        for key in [*listed, Qt.Key.Key_F5]:  # F5: no rating key, to show that an unhandled one is seen
            text = texts.get(key, chr(key) if Qt.Key.Key_0 <= key <= Qt.Key.Key_9 else "")
            rating._key(QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, text))
        assert unhandled == [Qt.Key.Key_F5]
        assert not rating.isVisible()  # Esc left
