"""Writing a file so that it is either wholly there or not changed at all: a full disk or a crash
mid-write leaves the old file (or none) and no partial one."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: str | Path, data) -> Path:
    """``data`` (bytes, or a function writing to a binary stream) to ``path``: a ``.partial`` beside it,
    synced, then renamed over it; on any failure the partial file goes and ``path`` is untouched."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as stream:
            stream.write(data) if isinstance(data, bytes) else data(stream)
            stream.flush()
            os.fsync(stream.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
