"""Help ▸ Keyboard shortcuts: every menu action that has a key, read from the menus when the sheet opens
(so it cannot go stale), then the mouse on the photo and the rating screen's keys (its keys are not
menu actions: they live in RatingWindow._key, listed in RatingWindow.KEYS beside it)."""

from __future__ import annotations

import html
from collections import Counter
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

MOUSE = (
    ("Wheel", "Zoom about the pointer (both views together when side by side)"),
    ("Drag", "Pan"),
    ("Right-drag", "Zoom, stretching"),
    ("Drag in draw mode (R, N)", "Draw an RL or RNFLD box; Esc returns to panning"),
    ("Click a box", "Select it (L switches its label, Del deletes it)"),
    ("Drag a box / its corner handle", "Move / resize your own box (undo with Ctrl+Z)"),
    ("Right-click", "The view's menu (View all, Export…)"),
)


def rating_keys() -> tuple[tuple[str, str], ...]:
    """The rating screen's keys, from the table beside its key handling (imported when the sheet opens:
    the rating screen brings the study store along)."""
    from fundus_viewer.gui.rating_window import RatingWindow

    return tuple((keys, text) for keys, text, _qt_keys in RatingWindow.KEYS)


def _label(action_text: str) -> str:
    return action_text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def menu_shortcuts(menu_bar: QMenuBar) -> list[tuple[str, str, list[str]]]:
    """(menu path, action, its keys as the platform writes them) for every action with a shortcut."""
    rows: list[tuple[str, str, list[str]]] = []

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {_label(action.text())}")
            elif not action.isSeparator() and action.shortcuts():
                keys = [key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()]
                rows.append((path, _label(action.text()), keys))

    for top in menu_bar.actions():
        if top.menu() is not None:
            walk(top.menu(), _label(top.text()))
    return rows


CLASH = "#c0392b"


def _section(title: str, pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><td width='150'>{keys}</td><td>{html.escape(text)}</td></tr>" for keys, text in pairs)
    return f"<h3>{html.escape(title)}</h3><table cellspacing='0' cellpadding='1'>{rows}</table>"


def sheet_html(rows: list[tuple[str, str, list[str]]]) -> str:
    """The menus' keys, then the mouse and the rating screen, in two columns; a key on two actions is
    marked, since Qt then fires neither."""
    uses = Counter(key for _menu, _action, keys in rows for key in keys)
    menus: dict[str, list[tuple[str, str]]] = {}
    for path, action, keys in rows:
        shown = ", ".join(
            f"<b style='color:{CLASH}'>{html.escape(k)} ⚠</b>" if uses[k] > 1 else f"<b>{html.escape(k)}</b>"
            for k in keys
        )
        menus.setdefault(path, []).append((shown, action))
    fixed = (("Mouse on the photo", MOUSE), ("Rating screen (Study ▸ Rate a study)", rating_keys()))
    sections = list(menus.items()) + [(t, [(f"<b>{html.escape(a)}</b>", b) for a, b in pairs]) for t, pairs in fixed]
    # two columns of about equal height, the sections in order
    weights = [len(pairs) + 2 for _title, pairs in sections]
    split = next(i for i in range(len(weights) + 1) if sum(weights[:i]) >= sum(weights) / 2)
    left = "".join(_section(*section) for section in sections[:split])
    right = "".join(_section(*section) for section in sections[split:])
    if any(n > 1 for n in uses.values()):
        left = f"<p style='color:{CLASH}'>⚠ a key on two actions: Qt then runs neither of them.</p>" + left
    return (
        "<table width='100%'><tr><td valign='top' width='50%'>"
        f"{left}</td><td width='24'></td><td valign='top'>{right}</td></tr></table>"
    )


class ShortcutsDialog(QDialog):
    def __init__(self, menu_bar: QMenuBar, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = menu_shortcuts(menu_bar)
        self.text = QTextBrowser()
        self.text.setHtml(sheet_html(self.rows))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(1040, 740)


class ShortcutsMixin:
    def shortcuts_action(self):
        action = self._action(
            "&Keyboard shortcuts", self.show_shortcuts, tip="Every key of the menus, the mouse, the rating screen"
        )
        action.setShortcuts([QKeySequence("F1"), QKeySequence("Ctrl+/")])
        return action

    def show_shortcuts(self) -> ShortcutsDialog:
        """Made afresh each time from the menus as they are now; closing it deletes it (F1 after F1
        would otherwise keep every sheet alive under the window)."""
        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog
