"""Resumable training state: tensors and plain values only, loaded with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

import torch

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.errors import CheckpointError


def save_state(path: Path, state: dict) -> None:
    """Atomic: a kill during the write leaves the previous state file intact."""
    atomic_write(path, lambda stream: torch.save(state, stream))


def load_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no training state to resume from") from None
    except Exception as exc:  # unpickling refused or a damaged file
        raise CheckpointError(f"{path}: cannot resume from this file ({exc})") from None
