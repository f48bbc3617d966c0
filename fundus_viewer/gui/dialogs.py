"""Every file dialog of the GUI, and where it opens: in the folder of the photo on screen or where a
dialog of the same kind was last used (QSettings ``dialogs/KIND``), else the user's Pictures folder (or
home). Without a start folder Qt opens in the launch directory, which is rarely where the photos are.

Each function returns the path chosen, or "" when the dialog is cancelled, and remembers its folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget


def photo_folder(widget: QWidget | None) -> Path | None:
    """The folder of the photo on screen in ``widget``'s window or any window it belongs to."""
    while widget is not None:
        photo = getattr(widget, "photo", None)
        if getattr(photo, "path", None):  # the review window's photo (a PhotoView's ``photo`` is an image item)
            return Path(photo.path).parent
        widget = widget.parentWidget()
    return None


# what a user opens or saves beside the photos; a model or a study lives elsewhere: its own last folder first
BESIDE_PHOTOS = {"photo", "export", "boxes"}


def start_dir(kind: str, near: str | Path | None = None, photos: Path | None = None) -> str:
    """Where a dialog of ``kind`` opens: ``near`` (a folder, or a file's folder), then the folder of the
    photos on screen and the last folder of that kind (in that order for photos and their exports, the
    other way round for models and studies), the user's Pictures folder, home; the first that exists."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    last = QSettings().value(f"dialogs/{kind}")
    middle = (photos, last) if kind in BESIDE_PHOTOS else (last, photos)
    for candidate in (near, *middle, pictures):
        if candidate:
            folder = Path(candidate)
            folder = folder if folder.is_dir() else folder.parent
            if folder.is_dir():
                return str(folder)
    return str(Path.home())


def remember_dir(kind: str, path: str | Path) -> None:
    """The folder of ``path`` (itself if a folder) is where the next dialog of ``kind`` opens."""
    if path:
        path = Path(path)
        QSettings().setValue(f"dialogs/{kind}", str(path if path.is_dir() else path.parent))


def _start(parent: QWidget | None, kind: str, near) -> str:
    return start_dir(kind, near, photo_folder(parent))


def open_file(parent: QWidget | None, kind: str, caption: str, filters: str = "", near=None) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, caption, _start(parent, kind, near), filters)
    remember_dir(kind, path)
    return path


def open_folder(parent: QWidget | None, kind: str, caption: str, near=None) -> str:
    folder = QFileDialog.getExistingDirectory(parent, caption, _start(parent, kind, near))
    remember_dir(kind, folder)
    return folder


def save_file(
    parent: QWidget | None,
    kind: str,
    caption: str,
    name: str,
    filters: str = "",
    near=None,
    options: QFileDialog.Option | None = None,
) -> str:
    """``name`` is the file name suggested, in the start folder."""
    start = Path(_start(parent, kind, near)) / name
    extra = {} if options is None else {"options": options}
    path, _ = QFileDialog.getSaveFileName(parent, caption, str(start), filters, **extra)
    remember_dir(kind, path)
    return path
