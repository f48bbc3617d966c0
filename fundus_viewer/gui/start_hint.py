"""What the empty review window says before the first photo: how to open one (else it is a black
rectangle with nothing to click)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

COLOUR_BAR_WIDTH = 100  # the view's colour bar and its labels, on the right
HINT = (
    "<p style='font-size:15pt'>No photo open</p>"
    "<p>Open a photo (Ctrl+O)<br>or a folder of photos (Ctrl+Shift+O),<br>"
    "drop one here, or try File ▸ Open sample photo.</p>"
)


def add_start_hint(view: QWidget) -> QLabel:
    """A centred hint over ``view``'s viewport; hide it once a photo shows. Clicks and drops pass through."""
    hint = QLabel(HINT)
    hint.setObjectName("start-hint")
    hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
    hint.setStyleSheet("color: #b8b8b8; background: transparent; font-size: 12pt;")
    hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    hint.setWordWrap(True)
    layout = QVBoxLayout(view.viewport())  # the layout keeps it centred as the view resizes
    layout.setContentsMargins(16, 16, COLOUR_BAR_WIDTH, 16)  # centred on the photo's area, clear of the bar
    layout.addWidget(hint)
    return hint
