"""What the vessel and the optic disc / cup segmenters share: a U-Net that standardises each photo
inside (so exposure matters less), and its checkpoint file."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.checkpoint import KIND_TITLES, load_weights, read_checkpoint, write_checkpoint
from fundus_viewer.core.models.unet import UNet


class StandardizedUNet(nn.Module):
    """RGB in [0, 1] -> ``out_channels`` logit maps; ``spec`` needs ``base`` and ``depth``."""

    out_channels = 1

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.network = UNet(3, self.out_channels, spec.base, spec.depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True).clamp(min=1e-3)
        return self.network((x - mean) / std)


def save_segmenter(model: StandardizedUNet, kind: str, path, half: bool = False) -> Path:
    return write_checkpoint(path, kind, model.network, model.spec.to_dict(), half=half)


def load_segmenter(model_class, spec_class, kind: str, path, default: Path, device="cpu"):
    """Load a checkpoint (``default`` when ``path`` is None) in eval mode with frozen weights."""
    path = Path(path) if path is not None else default
    if not path.exists():
        hint = f" (no default {KIND_TITLES[kind]} is bundled; name a model file)" if path == default else ""
        raise CheckpointError(f"{path}: no such model file{hint}")
    spec_dict, tensors = read_checkpoint(path, kind)
    model = model_class(spec_class.from_dict(spec_dict))
    load_weights(model.network, tensors, path, "U-Net")
    model.checkpoint_path = str(path)  # what a data-set run records of the model it ran
    return model.eval().requires_grad_(False).to(device)
