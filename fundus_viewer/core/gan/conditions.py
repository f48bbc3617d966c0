"""What a generator is given besides noise: the vessel map and, as its spec says, the field of view and
the optic disc and cup (beyond the paper). One C x S x S array per photo, in this channel order:

    vessels, [fov], [disc, cup]

- The field of view (``GanSpec.fov_channel``) tells the generator where the photo is: its output is
  black outside it, and a photo's own round field is what it learns to fill. A bare vessel map has no
  field recorded: it gets the centred circle of the map (cut to the map's own rectangle, as HRF's and
  DRIVE's wide frames cut their field at top and bottom).
- Disc and cup masks (``GanSpec.disc_cup``) come from the cup/disc segmenter on the training photo; at
  synthesis they can be drawn with a chosen vertical cup-to-disc ratio, which is what makes a rim-loss
  rating study's stimulus controllable: the same vessel tree at vCDR 0.4 and 0.8.
"""

from __future__ import annotations

import cv2
import numpy as np

# A disc's radius as a share of the field of view's diameter where nothing better is known (a vessel
# map alone): the middle of what the training photos show (HRF ~0.05 at 45 degrees, Drishti-GS1's
# disc-centred 30-degree field ~0.09).
DEFAULT_DISC_RADIUS = 0.07


def condition_channels(spec) -> int:
    return 1 + int(spec.fov_channel) + 2 * int(spec.disc_cup)


def stack_condition(
    spec,
    vessels: np.ndarray,
    fov: np.ndarray | None = None,
    disc: np.ndarray | None = None,
    cup: np.ndarray | None = None,
) -> np.ndarray:
    """The generator's C x S x S float32 condition; what the spec needs must be given."""
    planes = [vessels]
    if spec.fov_channel:
        if fov is None:
            raise ValueError("this generator takes the field of view: give fov")
        planes.append(fov)
    if spec.disc_cup:
        if disc is None or cup is None:
            raise ValueError("this generator takes disc and cup masks: give both")
        planes += [disc, cup]
    return np.stack([np.asarray(p, dtype=np.float32) for p in planes])


def map_fov(shape: tuple[int, int], size: int) -> np.ndarray:
    """The field of view of a bare vessel map of ``shape`` (rows, cols), on the S x S grid the map is padded
    and resized to (``synthesis.vessel_map_input``): the centred circle, inside the map's rectangle."""
    rows, cols = shape
    side = max(rows, cols)
    height, width = rows / side * size, cols / side * size
    yy, xx = np.mgrid[:size, :size] + 0.5
    c = size / 2
    circle = (xx - c) ** 2 + (yy - c) ** 2 <= (max(height, width) / 2) ** 2
    inside = (np.abs(yy - c) <= height / 2) & (np.abs(xx - c) <= width / 2)
    return (circle & inside).astype(np.float32)


def ellipse(size: int, center: tuple[float, float], radii: tuple[float, float]) -> np.ndarray:
    """S x S float32 mask of an axis-aligned ellipse (pixel centres inside)."""
    yy, xx = np.mgrid[:size, :size] + 0.5
    rx, ry = max(radii[0], 1e-6), max(radii[1], 1e-6)
    return ((((xx - center[0]) / rx) ** 2 + ((yy - center[1]) / ry) ** 2) <= 1).astype(np.float32)


def disc_from_vessels(
    vessels: np.ndarray, fov: np.ndarray, radius_share: float = DEFAULT_DISC_RADIUS
) -> tuple[tuple[float, float], float]:
    """(centre, radius) of the optic disc of a bare vessel map, in its pixels: where the vessel tree is
    densest at the disc's scale (the main arcades leave the disc together), inside the field of view,
    with the radius a share of the field's diameter."""
    ys, xs = np.nonzero(fov > 0.5)
    if len(xs) == 0:
        raise ValueError("the field of view is empty")
    diameter = float(max(xs.max() - xs.min(), ys.max() - ys.min()) + 1)
    radius = radius_share * diameter
    density = cv2.GaussianBlur(vessels.astype(np.float32), (0, 0), sigmaX=max(1.0, radius))
    # keep the disc inside the field: its centre at least one radius from the edge
    inner = cv2.erode(
        (fov > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(radius) + 1,) * 2)
    )
    if not inner.any():
        inner = (fov > 0.5).astype(np.uint8)
    inside = density[inner > 0]
    if inside.max() - inside.min() < 1e-6:  # no tree to follow (a blank map): the field's centre
        return ((xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2), radius
    density[inner == 0] = -1
    row, col = np.unravel_index(int(np.argmax(density)), density.shape)
    return (col + 0.5, row + 0.5), radius


def with_vcdr(disc: np.ndarray, vcdr: float) -> np.ndarray:
    """A cup for ``disc`` (S x S mask) with vertical cup-to-disc ratio ``vcdr``: an ellipse on the disc's
    centre, its axes that share of the disc's vertical and horizontal extents, kept inside the disc."""
    if not 0 < vcdr < 1:
        raise ValueError(f"vCDR {vcdr}: between 0 and 1")
    ys, xs = np.nonzero(disc > 0.5)
    if len(xs) == 0:
        raise ValueError("no disc to put a cup in")
    height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    center = ((xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2)
    cup = ellipse(disc.shape[0], center, (vcdr * width / 2, vcdr * height / 2))
    return cup * (disc > 0.5)


def drawn_disc_cup(size: int, center: tuple[float, float], radius: float, vcdr: float) -> tuple[np.ndarray, np.ndarray]:
    """A round disc and a concentric cup with vertical ratio ``vcdr``."""
    disc = ellipse(size, center, (radius, radius))
    return disc, with_vcdr(disc, vcdr)


def segmented_disc_cup(model, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Disc and cup masks (float32, the photo's own grid) from the cup/disc segmenter; None where it
    finds no disc."""
    import torch

    from fundus_viewer.core.cup_disc import segment_disc

    found = segment_disc(model, photo)
    if found.disc is None:
        return None
    probability = torch.sigmoid(found.logits).numpy()
    disc, cup = ((found.transform.to_original(p) > model.spec.threshold).astype(np.uint8) for p in probability)
    # the disc is the region the segmenter's disc was found as (stray blobs would move the cup drawn in it)
    count, regions, stats, _ = cv2.connectedComponentsWithStats(disc)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    disc = (regions == largest).astype(np.float32)
    return disc, cup.astype(np.float32) * disc
