"""A file's SHA-256, what a model card or a map's sidecar records as the identity of a checkpoint."""

from __future__ import annotations

import hashlib
import os

_digests: dict[tuple, str] = {}


def file_sha256(path) -> str:
    """Computed once per path, size and modification time: a checkpoint can be hundreds of MB."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        _digests[key] = digest.hexdigest()
    return _digests[key]
