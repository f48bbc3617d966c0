"""Picking the compute device."""

from __future__ import annotations

import torch

from fundus_viewer.core.errors import FundusViewerError


def select_device(choice: str = "auto") -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else CPU. ``cuda`` without a GPU is an error, not a fallback."""
    choice = (choice or "auto").lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise FundusViewerError("--device cuda was asked for, but torch sees no CUDA GPU on this machine")
    if choice not in ("cpu",) and not choice.startswith("cuda"):
        raise FundusViewerError(f"unknown device {choice!r}; use auto, cpu or cuda")
    return torch.device(choice)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return "CPU"
