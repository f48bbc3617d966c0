"""File > Open recent, mixed into the main window: the folders worked in, most recent first, each
reopened at the photo last shown there. A folder, not each photo: stepping through a folder with
Page Down would otherwise push every other folder out of the menu."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings

RECENT_LIMIT = 10
KEY = "recent/folders"  # JSON: [[folder, last photo's name], ...], most recent first


def recent_folders() -> list[tuple[str, str]]:
    """(folder, name of the photo last shown there), most recent first."""
    settings = QSettings()
    try:
        entries = [(str(f), str(n)) for f, n in json.loads(settings.value(KEY) or "[]")]
    except (TypeError, ValueError):  # a hand-edited or damaged entry: start the list again
        entries = []
    files = settings.value("recent/files") or []  # the photo list of earlier versions, read once
    if not entries and files:
        for file in [files] if isinstance(files, str) else files:  # QSettings gives one entry as a string
            folder = str(Path(file).parent)
            if all(folder != f for f, _ in entries):
                entries.append((folder, Path(file).name))
    return entries[:RECENT_LIMIT]


class RecentFoldersMixin:
    def _remember(self, path: Path) -> None:
        """``path`` is on screen: its folder goes first, and is reopened at it."""
        folder = str(path.parent)
        entries = [(folder, path.name)] + [(f, n) for f, n in recent_folders() if f != folder]
        QSettings().setValue(KEY, json.dumps(entries[:RECENT_LIMIT]))
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()  # deletes the actions the menu owns: refilled at every photo opened
        self.recent_menu.setToolTipsVisible(True)
        for folder, name in recent_folders():
            action = self._action(folder, lambda f=folder, n=name: self.open_recent(f, n))
            action.setParent(self.recent_menu)  # the window's would outlive clear(): ten more each photo
            there = Path(folder).is_dir()
            action.setEnabled(there)  # a folder moved or on a drive not mounted: greyed, kept for later
            action.setToolTip(f"Back to {name}" if there else "No longer there")
            self.recent_menu.addAction(action)
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    def open_recent(self, folder: str, name: str) -> bool:
        """The folder, at the photo last shown there (its first photo if that one has gone)."""
        photo = Path(folder) / name
        return self.open_photo(photo if photo.is_file() else folder)
