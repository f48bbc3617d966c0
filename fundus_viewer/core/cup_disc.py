"""Optic cup and disc: a U-Net segments both on a disc-centred square, and the vertical cup-to-disc
ratio (vCDR) is read from the masks.

The vCDR is the cup's vertical extent over the disc's, the sign clinicians read first (0.6-0.7 or more
is suspicious). Extents are the number of rows in which a thresholded mask has any pixel, so the ratio
does not depend on the map's resolution. The square is found by ``fundus_viewer.core.disc`` and is
``spec.diameters`` disc diameters wide; a photo that is already a disc crop is used whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from fundus_viewer.core.disc import RADIUS_LIMITS, OpticDisc
from fundus_viewer.core.models.segmenter import StandardizedUNet, load_segmenter, save_segmenter
from fundus_viewer.core.models.spec import SpecDict
from fundus_viewer.core.photo import PreparedPhoto, prepare_photo
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

    # with input_size and resize, a transform.CropRecipe: the trainer cuts its training squares the way
    # it cuts a classifier's (``trainer.classifier_data.load_context``)
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


def _tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)[None]


# Where the segmenter finds no disc in the located square, the square is tried again this many times
# the located radius: on other cameras the classical radius is off by up to a factor of 2 (HRF's
# diabetic photos, CHASE_DB1), and a disc at a size the segmenter never saw goes unrecognised.
SEARCH_SCALES = (0.6, 1.5, 2.2, 0.4)
# A disc the segmenter marks in a square around a located disc is believed only where it could be one:
# it fills 3-60 % of the square (the refined square puts it near 35 %) and touches at most two of the
# square's four edges; else it is a square marked whole (HRF's diabetic photos at the largest search
# scale) or a band of glare across it, and the search goes on or says "no disc found". (Requiring it
# clear of every edge rejected 9 of 26 CHASE_DB1 discs that were right.)
_DISC_SHARE = (0.03, 0.6)
_MIN_DISC_SHARE = 0.01  # a "disc" smaller than this share of the square is noise


@dataclass
class SegmentedDisc:
    """The segmenter's view of one photo: the square it saw, its logits, and the disc it found there."""

    transform: InputTransform
    logits: torch.Tensor  # 2 x S x S
    disc: OpticDisc | None  # centre and area-equivalent radius of the largest disc region, photo pixels
    confidence: float  # mean disc probability inside that region (0: none)
    squares: int  # how many squares were segmented to get here
    plausible: bool = False  # the region could be a disc here (size in the square, clear of its edge)


def _segment_square(model: CupDiscSegmenter, photo: PreparedPhoto, disc: OpticDisc | None) -> SegmentedDisc:
    spec = model.spec
    if disc is None:
        transform, pixels = photo.model_pixels(spec.input_size, spec.resize, "disc", spec.diameters)
    else:
        transform = InputTransform.for_recipe(photo.rgb, spec, fov=photo.fov, disc=disc)
        pixels = transform.to_input(photo.rgb)
    with torch.no_grad():
        logits = model(_tensor(pixels).to(next(model.parameters()).device))[0].float().cpu()
    probability = torch.sigmoid(logits[0]).numpy()
    count, regions, stats, centroids = cv2.connectedComponentsWithStats((probability > spec.threshold).astype(np.uint8))
    if count < 2:
        return SegmentedDisc(transform, logits, None, 0.0, 1)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = float(stats[largest, cv2.CC_STAT_AREA])
    if area < _MIN_DISC_SHARE * probability.size:
        return SegmentedDisc(transform, logits, None, 0.0, 1)
    x, y = transform.original_points(centroids[largest][None])[0]
    radius = float(np.sqrt(area / np.pi)) / transform.scale
    confidence = float(probability[regions == largest].mean())
    left, top, width, height = stats[largest, :4]
    size = probability.shape[0]
    edges = int(left == 0) + int(top == 0) + int(left + width >= size) + int(top + height >= size)
    plausible = bool(
        edges <= 2 and _DISC_SHARE[0] <= area / probability.size <= _DISC_SHARE[1] and radius <= _largest_disc(photo)
    )
    return SegmentedDisc(
        transform, logits, OpticDisc(float(x), float(y), radius, located=True), confidence, 1, plausible
    )


def _largest_disc(photo: PreparedPhoto) -> float:
    """The largest disc radius believed, in photo pixels: the locator's upper limit, a fifth of the field
    of view's diameter (a region the size of the whole field is the field marked, not a disc)."""
    x0, y0, x1, y1 = photo.fov.box()
    return RADIUS_LIMITS[1] * max(x1 - x0, y1 - y0)


def segment_disc(model: CupDiscSegmenter, image) -> SegmentedDisc:
    """Segment the disc of one photo, as the app does: in the square around the located disc; where the
    segmenter finds no disc there, in squares of other sizes around the same centre (the most confident
    wins); then once more in a square centred on and sized to the disc it found, so that the disc
    fills the square as in training whatever the camera's field and resolution. A photo that is already
    a disc crop is segmented whole, once."""
    photo = prepare_photo(image)
    first = _segment_square(model, photo, None)
    if not photo.disc.located:
        return first
    best, tried = first, 1
    if not first.plausible:
        located = photo.disc
        for factor in SEARCH_SCALES:
            attempt = _segment_square(
                model, photo, OpticDisc(located.x, located.y, located.radius * factor, located=True)
            )
            tried += 1
            if attempt.plausible and (not best.plausible or attempt.confidence > best.confidence):
                best = attempt
        if not best.plausible:  # nothing that could be a disc: say so, on the located square
            return replace(first, disc=None, confidence=0.0, squares=tried)
    refined = _segment_square(model, photo, best.disc)
    tried += 1
    return replace(refined if refined.plausible else best, squares=tried)


@dataclass
class CupDiscMeasurement:
    vcdr: float  # NaN where no disc was found
    outlines: dict  # "disc" / "cup": closed (N, 2) x, y polygons in the photo's pixels
    disc: OpticDisc | None = None  # the disc the segmenter found (photo pixels); None: none found
    squares: int = 1  # squares segmented to find it


def measure_cup_disc(model: CupDiscSegmenter, image) -> CupDiscMeasurement:
    """Segment disc and cup of one photo (``segment_disc``); outlines in the photo's pixels."""
    found = segment_disc(model, image)
    if found.disc is None:  # nothing believed to be a disc: neither an outline nor a ratio to read
        return CupDiscMeasurement(vcdr=float("nan"), outlines={}, disc=None, squares=found.squares)
    return CupDiscMeasurement(
        vcdr=float(vertical_cdr(found.logits[None], model.spec.threshold)[0]),
        outlines={
            name: found.transform.original_points(points)
            for name, points in outlines(found.logits, model.spec.threshold).items()
        },
        disc=found.disc,
        squares=found.squares,
    )
