"""What the empty review window says before the first photo: how to open one (else it is a black
rectangle with nothing to click)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

COLOUR_BAR_WIDTH = 100  # the view's colour bar and its labels, on the right
OPENERS = ("&Open photo…", "Open &folder…")  # the File menu's actions whose keys the hint names


def _key(window: QWidget, text: str) -> str:
    """`` (Ctrl+O)``: the key of the window's action ``text`` as the platform writes it (⌘O on macOS)."""
    for action in window.findChildren(QAction):
        if action.text() == text and not action.shortcut().isEmpty():
            return f" ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
    return ""


def hint_text(window: QWidget) -> str:
    photo, folder = (_key(window, text) for text in OPENERS)
    return (
        "<p style='font-size:15pt'>No photo open</p>"
        f"<p>Open a photo{photo}<br>or a folder of photos{folder},<br>"
        "drop one here, or try File ▸ Open sample photo.</p>"
    )


class StartHint(QLabel):
    def showEvent(self, event: QShowEvent) -> None:
        # the keys are read from the menu when shown: the hint is made before the menu is
        self.setText(hint_text(self.window()))
        super().showEvent(event)


def add_start_hint(view: QWidget) -> QLabel:
    """A centred hint over ``view``'s viewport; hide it once a photo shows. Clicks and drops pass through."""
    hint = StartHint()
    hint.setObjectName("start-hint")
    hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
    hint.setStyleSheet("color: #b8b8b8; background: transparent; font-size: 12pt;")
    hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    hint.setWordWrap(True)
    layout = QVBoxLayout(view.viewport())  # the layout keeps it centred as the view resizes
    layout.setContentsMargins(16, 16, COLOUR_BAR_WIDTH, 16)  # centred on the photo's area, clear of the bar
    layout.addWidget(hint)
    return hint
