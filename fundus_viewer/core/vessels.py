"""The vessel segmenter (a U-Net, the paper's reference 13): photo -> vessel probability on the photo's grid.

Photos are brought to a common scale first (field-of-view diameter ``spec.fov_diameter`` pixels, the
scale it was trained at), segmented whole, and the probability is resized back to the original grid.
Pixels outside the field of view get probability 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from fundus_viewer.core.fov import FieldOfView, analyse_field_of_view
from fundus_viewer.core.images import as_fundus_image
from fundus_viewer.core.models.segmenter import StandardizedUNet, load_segmenter, save_segmenter
from fundus_viewer.core.models.spec import SpecDict
from fundus_viewer.core.resources import models_dir

KIND = "fundus-viewer/vessel-segmenter"


@dataclass
class VesselSpec(SpecDict):
    base: int = 16
    depth: int = 3
    fov_diameter: int = 720  # photos are rescaled so their field of view is this wide
    threshold: float = 0.5  # probability -> mask (chosen on validation Dice)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


class VesselSegmenter(StandardizedUNet):
    """RGB in [0, 1] -> vessel logits (B x 1 x H x W)."""

    out_channels = 1


def default_vessel_model_path() -> Path:
    return models_dir() / "vessels.safetensors"


def save_vessel_segmenter(model: VesselSegmenter, path, half: bool = False) -> Path:
    return save_segmenter(model, KIND, path, half=half)


def load_vessel_segmenter(path=None, device="cpu") -> VesselSegmenter:
    return load_segmenter(VesselSegmenter, VesselSpec, KIND, path, default_vessel_model_path(), device)


def working_scale(fov: FieldOfView, fov_diameter: int) -> float:
    """The factor that makes this photo's field of view ``fov_diameter`` pixels wide."""
    x0, y0, x1, y1 = fov.box()
    return fov_diameter / max(x1 - x0, y1 - y0)


def to_working(rgb: np.ndarray, scale: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interpolation)


def predict_probability(model: VesselSegmenter, rgb_work: np.ndarray) -> np.ndarray:
    """Vessel probability of a photo already at working scale (same size out)."""
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(rgb_work)).permute(2, 0, 1).float().div_(255.0)[None].to(device)
    multiple = 2**model.spec.depth
    height, width = x.shape[-2:]
    pad = (0, (-width) % multiple, 0, (-height) % multiple)
    with torch.no_grad():
        logits = model(F.pad(x, pad, mode="reflect"))[..., :height, :width]
    return torch.sigmoid(logits)[0, 0].float().cpu().numpy()


def segment_vessels(model: VesselSegmenter, image) -> np.ndarray:
    """Vessel probability (H x W float32 in [0, 1]) on the original photo's grid; 0 outside the FOV."""
    photo = as_fundus_image(image)
    fov = analyse_field_of_view(photo.rgb)  # once, for the scale and the mask
    probability = predict_probability(model, to_working(photo.rgb, working_scale(fov, model.spec.fov_diameter)))
    back = cv2.resize(probability, (photo.width, photo.height), interpolation=cv2.INTER_LINEAR)
    back[~fov.mask()] = 0
    return np.clip(back, 0, 1)
