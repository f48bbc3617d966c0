"""Resumable training state: tensors and plain values only, loaded with ``weights_only=True``, with a
SHA-256 of its contents stored inside, so a flipped bit in a tensor is found rather than resumed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.errors import CheckpointError

CHECKSUM_KEY = "sha256"


def state_digest(state: Any) -> str:
    """SHA-256 of a state's tensors (dtype, shape and bytes) and plain values, in a fixed order."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"T{value.dtype}{tuple(value.shape)}".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        elif isinstance(value, dict):
            digest.update(b"{")
            for key in sorted(value, key=repr):
                feed(key)
                feed(value[key])
            digest.update(b"}")
        elif isinstance(value, list | tuple):
            digest.update(b"[")
            for item in value:
                feed(item)
            digest.update(b"]")
        else:
            digest.update(repr(value).encode())

    feed(state)
    return digest.hexdigest()


def save_state(path: Path, state: dict) -> None:
    """Atomic: a kill during the write leaves the previous state file intact (or none at all)."""
    sealed = {**state, CHECKSUM_KEY: state_digest(state)}
    atomic_write(path, lambda stream: torch.save(sealed, stream))


def load_state(path: Path) -> dict:
    """The state as saved; CheckpointError for a file that is not one, or whose contents changed."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no training state to resume from") from None
    except Exception as exc:  # unpickling refused or a damaged file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: cannot resume from this file ({first})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a training state (a {type(state).__name__}, not a dict)")
    stored = state.pop(CHECKSUM_KEY, None)  # None: written before checksums were kept
    if stored is not None and stored != state_digest(state):
        raise CheckpointError(
            f"{path}: damaged: its contents do not match the checksum written with it; "
            "delete it to start over, or restore it from a backup"
        )
    return state
