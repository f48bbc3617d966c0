"""Writing a file so that it is either wholly there or not changed at all: a full disk or a crash
mid-write leaves the old file (or none) and no partial one. Every file the app, the CLI and the
trainer write goes through here (SQLite files keep their own journal)."""

from __future__ import annotations

import contextlib
import errno
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
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno is None or exc.filename not in (None, str(partial)):
            raise
        # a write or fsync error names no file (or the partial one): name the file being written
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def write_error_text(exc: OSError) -> str:
    """A failed write in words, naming the file where the error does: "the disk is full: FILE"."""
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    what = "the disk is full" if full else (exc.strerror or str(exc))
    return f"{what}: {exc.filename}" if exc.filename else what


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
