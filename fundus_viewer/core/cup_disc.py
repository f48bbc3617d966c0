"""Optic cup and disc: a U-Net segments both on a disc-centred square, and the vertical cup-to-disc
ratio (vCDR) is read from the masks.

The vCDR is the cup's vertical extent over the disc's, the sign clinicians read first (0.6-0.7 or more
is suspicious). Extents are the number of rows in which a thresholded mask has any pixel, so the ratio
does not depend on the map's resolution. The square is found by ``fundus_viewer.core.disc`` and is
``spec.diameters`` disc diameters wide; a photo that is already a disc crop is used whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from fundus_viewer.core.models.segmenter import StandardizedUNet, load_segmenter, save_segmenter
from fundus_viewer.core.models.spec import SpecDict
from fundus_viewer.core.photo import prepare_photo
from fundus_viewer.core.resources import models_dir
from fundus_viewer.core.transform import InputTransform

KIND = "fundus-viewer/cup-disc-segmenter"


@dataclass
class CupDiscSpec(SpecDict):
    base: int = 16
    depth: int = 4
    input_size: int = 128  # the model sees this centre crop ...
    resize: int = 148  # ... of the disc-centred square resized to this (the margin lets training shift it)
    diameters: float = 1.75  # width of the square, in (estimated) disc diameters: the input sees 1.5
    threshold: float = 0.5  # probability -> mask; the masks' soft maps put 2 of 4 experts at 0.5
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    # The names the classifier's data code reads (``trainer.classifier_data.load_context``).
    @property
    def crop(self) -> str:
        return "disc"

    @property
    def disc_diameters(self) -> float:
        return self.diameters


class CupDiscSegmenter(StandardizedUNet):
    """RGB in [0, 1] -> disc and cup logits (B x 2 x S x S)."""

    out_channels = 2


def default_cup_disc_path() -> Path:
    return models_dir() / "cup-disc.safetensors"


def save_cup_disc_segmenter(model: CupDiscSegmenter, path, half: bool = False) -> Path:
    return save_segmenter(model, KIND, path, half=half)


def load_cup_disc_segmenter(path=None, device="cpu") -> CupDiscSegmenter:
    return load_segmenter(CupDiscSegmenter, CupDiscSpec, KIND, path, default_cup_disc_path(), device)


def vertical_extent(mask: torch.Tensor) -> torch.Tensor:
    """B x H x W bool -> B rows from the first to the last row with any True pixel (0 for an empty mask)."""
    rows = mask.any(dim=-1)
    height = rows.shape[-1]
    first = rows.float().argmax(dim=-1)
    last = height - 1 - rows.flip(-1).float().argmax(dim=-1)
    return torch.where(rows.any(dim=-1), last - first + 1, torch.zeros_like(first)).float()


def vertical_cdr_of_masks(disc: torch.Tensor, cup: torch.Tensor) -> torch.Tensor:
    """B x H x W bool disc and cup masks -> B vCDRs; the cup counts only inside the disc, where it
    anatomically lies; 0 where there is no disc."""
    disc_rows = vertical_extent(disc)
    return torch.where(disc_rows > 0, vertical_extent(cup & disc) / disc_rows.clamp(min=1), torch.zeros_like(disc_rows))


def vertical_cdr(logits: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """B x 2 x H x W disc / cup logits -> B vCDRs in [0, 1]."""
    probability = torch.sigmoid(logits.detach())
    return vertical_cdr_of_masks(probability[:, 0] > threshold, probability[:, 1] > threshold)


def outlines(logits: torch.Tensor, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """One photo's 2 x S x S logits -> the outline of the disc and of the cup inside it as closed (N, 2)
    polygons of (x, y) map pixels; absent where nothing is found.

    Each outline is the convex hull of the largest region: disc and cup are convex, and a hull drawn at
    map resolution shows neither the pixel staircase nor the ragged edges of a soft segmentation, while
    it keeps the region's vertical extent, the rows the vCDR counts."""
    probability = torch.sigmoid(logits.detach().float()).cpu().numpy()
    disc = probability[0] > threshold
    found = {}
    for name, mask in (("disc", disc), ("cup", (probability[1] > threshold) & disc)):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if contours:
            points = cv2.convexHull(max(contours, key=cv2.contourArea))[:, 0, :].astype(np.float64)
            found[name] = np.vstack([points, points[:1]])
    return found


def square_input(spec: CupDiscSpec, image) -> tuple[InputTransform, torch.Tensor]:
    """The disc-centred square the segmenter sees: (photo <-> square transform, 1 x 3 x S x S in [0, 1]).
    ``image``: a ``PreparedPhoto`` (its disc, located for the classifier, is used again), path or array."""
    transform, pixels = prepare_photo(image).model_pixels(spec.input_size, spec.resize, "disc", spec.diameters)
    return transform, torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)[None]


@dataclass
class CupDiscMeasurement:
    vcdr: float
    outlines: dict  # "disc" / "cup": closed (N, 2) x, y polygons in the photo's pixels


def measure_cup_disc(model: CupDiscSegmenter, image) -> CupDiscMeasurement:
    """Segment disc and cup around the located disc of one photo; outlines in the photo's pixels."""
    transform, x = square_input(model.spec, image)
    with torch.no_grad():
        logits = model(x.to(next(model.parameters()).device))[0].float().cpu()
    return CupDiscMeasurement(
        vcdr=float(vertical_cdr(logits[None], model.spec.threshold)[0]),
        outlines={name: transform.original_points(points) for name, points in outlines(logits, model.spec.threshold).items()},
    )
