"""Writing a file so that it is either wholly there or not changed at all: a full disk or a crash
mid-write leaves the old file (or none) and no partial one. Every file the app, the CLI and the
trainer write goes through here (SQLite files keep their own journal)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

Data = bytes | str | Callable[[BinaryIO], object]


def partial_path(path: Path) -> Path:
    """A unique name beside ``path`` (two processes writing the same file never share one)."""
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")


def atomic_write(path: str | Path, data: Data) -> Path:
    """``data`` (bytes, text written as UTF-8, or a function writing to a binary stream) to ``path``:
    a partial file beside it, synced, then renamed over it; on any failure the partial file goes and
    ``path`` is untouched."""
    path = Path(path)
    partial = partial_path(path)
    try:
        with partial.open("xb") as stream:
            if isinstance(data, str):
                stream.write(data.encode("utf-8"))
            elif isinstance(data, bytes):
                stream.write(data)
            else:
                data(stream)
            stream.flush()
            os.fsync(stream.fileno())
        replace_durably(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def replace_durably(partial: Path, path: Path) -> None:
    """Rename ``partial`` over ``path`` and sync the folder, so the rename itself survives a power cut."""
    os.replace(partial, path)
    if os.name != "posix":
        return  # Windows has no folder handle to sync; NTFS journals the rename
    try:
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):  # some file systems (network shares) cannot sync a folder
        os.fsync(folder)
    os.close(folder)
