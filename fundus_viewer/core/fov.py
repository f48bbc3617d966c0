"""Finding the circular field of view (FOV) of a fundus photo: the bright disc inside the black surround."""

from __future__ import annotations

import cv2
import numpy as np

# Work at a small size: the FOV edge is a large, smooth shape.
_WORK_SIDE = 256
# A surround pixel is darker than this fraction of the bright tissue (99th percentile) ...
_RELATIVE_LEVEL = 0.12
# ... and never brighter than this absolute level (JPEG noise in the surround stays below ~15).
_ABSOLUTE_CEILING = 24
# Where the bright region covers nearly the whole photo there is no surround (disc crops).
_FULL_FRAME = 0.97


def field_of_view_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean mask of the FOV at the photo's own size (all True when there is no dark surround)."""
    height, width = rgb.shape[:2]
    small, factor = _shrink(rgb)
    mask = _largest_bright_component(small)
    if mask is None:
        return np.ones((height, width), dtype=bool)
    return cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)


def has_dark_surround(rgb: np.ndarray) -> bool:
    """True for a fundus photo with a black surround; False for a crop that is all retina (ACRIMA).

    A circular field of view leaves the photo's corners dark: at least three of the four corner
    patches must lie mostly outside the bright region (dark patches inside a disc crop do not).
    """
    small, _ = _shrink(rgb)
    mask = _largest_bright_component(small)
    if mask is None or mask.mean() >= _FULL_FRAME:
        return False
    rows, cols = mask.shape
    h, w = max(1, rows // 12), max(1, cols // 12)
    corners = [mask[:h, :w], mask[:h, -w:], mask[-h:, :w], mask[-h:, -w:]]
    return bool(sum(corner.mean() < 0.4 for corner in corners) >= 3)


def find_field_of_view(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1; end exclusive) of the FOV in original pixels.

    The whole photo when no dark surround is found (optic-disc crops such as ACRIMA's).
    """
    height, width = rgb.shape[:2]
    small, factor = _shrink(rgb)
    mask = _largest_bright_component(small)
    if mask is None or mask.mean() >= _FULL_FRAME:
        return 0, 0, width, height
    ys, xs = np.nonzero(mask)
    x0 = int(np.floor(xs.min() / factor))
    y0 = int(np.floor(ys.min() / factor))
    x1 = min(width, int(np.ceil((xs.max() + 1) / factor)))
    y1 = min(height, int(np.ceil((ys.max() + 1) / factor)))
    return x0, y0, x1, y1


def _shrink(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    height, width = rgb.shape[:2]
    factor = min(1.0, _WORK_SIDE / max(height, width))
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        # Nearest neighbour is enough for a shape this large and ~20x cheaper than area averaging;
        # the opening below removes the speckle it lets through.
        return cv2.resize(rgb, size, interpolation=cv2.INTER_NEAREST), factor
    return rgb, 1.0


def _largest_bright_component(small: np.ndarray) -> np.ndarray | None:
    # The red channel is the brightest in fundus photos; max over channels also serves grey ones.
    value = np.maximum(np.maximum(small[..., 0], small[..., 1]), small[..., 2]) if small.ndim == 3 else small
    level = min(_ABSOLUTE_CEILING, _RELATIVE_LEVEL * float(np.percentile(value, 99)))
    bright = (value > level).astype(np.uint8)
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    if count <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    # A component that is a small fraction of the frame is not a field of view (a dark photo).
    if stats[largest, cv2.CC_STAT_AREA] < 0.2 * value.size:
        return None
    return labels == largest
