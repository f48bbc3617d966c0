"""Two menu actions on one key make Qt fire neither (Ctrl+M was Open model and Mark reviewed)."""

from __future__ import annotations

from collections import Counter

import pytest
from main_windows import make_window

from fundus_viewer.gui.shortcuts_sheet import menu_shortcuts

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


def test_no_key_is_on_two_menu_actions(qtbot, tiny_checkpoint):
    window = make_window(qtbot, tiny_checkpoint)
    rows = menu_shortcuts(window.menuBar())
    uses = Counter(key for _menu, _action, keys in rows for key in keys)
    assert len(rows) > 20  # the walk found the menus' actions
    assert {key for key, n in uses.items() if n > 1} == set()
    window.close()
