"""What the vessel and the optic disc / cup segmenters share: a U-Net that standardises each photo
inside (so exposure matters less), and its checkpoint file."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.checkpoint import KIND_TITLES, build_checked, read_checkpoint, write_checkpoint
from fundus_viewer.core.models.spec import Between
from fundus_viewer.core.models.unet import UNet

# A U-Net's bounds: base 128 at depth 6 already has 8192 channels at the bottom (a 2.4 GB conv), the
# most any checkpoint may ask; depth 0 has no encoder. Probabilities' thresholds are probabilities.
UNET_LIMITS = {"base": Between(1, 128), "depth": Between(1, 6), "threshold": Between(0.0, 1.0)}
LIMITS = {
    # the vessel segmenter's working scale: a field of view this many pixels wide (720 shipped)
    "fundus-viewer/vessel-segmenter": {**UNET_LIMITS, "fov_diameter": Between(64, 4096)},
    # the cup/disc segmenter's disc-centred square: input and resize as a classifier's, in disc diameters
    "fundus-viewer/cup-disc-segmenter": {
        **UNET_LIMITS,
        "input_size": Between(16, 2048),
        "resize": Between(16, 4096),
        "diameters": Between(0.5, 20.0),
    },
}


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


def _spec_class(kind: str):
    if kind == "fundus-viewer/vessel-segmenter":
        from fundus_viewer.core.vessels import VesselSpec

        return VesselSpec
    from fundus_viewer.core.cup_disc import CupDiscSpec

    return CupDiscSpec


def check_segmenter_spec(kind: str, data, where: str, spec_class=None):
    """The spec of a vessel or cup/disc segmenter file, every field checked (CheckpointError naming
    ``where`` and the field)."""
    spec = (spec_class or _spec_class(kind)).from_dict(data, where, LIMITS[kind])
    resize, size = getattr(spec, "resize", None), getattr(spec, "input_size", None)
    if resize is not None and size is not None and resize < size:
        raise CheckpointError(f"{where} field 'resize' is {resize}; it must be at least input_size ({size})")
    return spec


def load_segmenter(model_class, spec_class, kind: str, path, default: Path, device="cpu"):
    """Load a checkpoint (``default`` when ``path`` is None) in eval mode with frozen weights."""
    path = Path(path) if path is not None else default
    if not path.exists():
        hint = f" (no default {KIND_TITLES[kind]} is bundled; name a model file)" if path == default else ""
        raise CheckpointError(f"{path}: no such model file{hint}")
    spec_dict, tensors = read_checkpoint(path, kind)
    spec = check_segmenter_spec(kind, spec_dict, f"{path}: spec", spec_class)
    model = build_checked(lambda: model_class(spec), tensors, path, "U-Net")
    model.checkpoint_path = str(path)  # what a data-set run records of the model it ran
    return model.eval().requires_grad_(False).to(device)
