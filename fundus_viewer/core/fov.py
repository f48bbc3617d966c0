"""Finding the circular field of view (FOV) of a fundus photo: the bright disc inside the black surround."""

from __future__ import annotations

from dataclasses import dataclass

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


def square_around(x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int]:
    """(left, top, side) of the square centred on the box [x0, x1) x [y0, y1) whose side is the box's
    longer one (it may reach beyond the photo). The one rounding of the classifier's input square, the
    GAN's and a study's photo square, so they never lie a pixel apart (the GAN's and a study's rounding:
    the bundled generators were trained on it, and the bundled classifier cuts a disc square instead)."""
    side = max(x1 - x0, y1 - y0)
    return (x0 + x1 - side) // 2, (y0 + y1 - side) // 2, side


@dataclass(frozen=True, eq=False)
class FieldOfView:
    """One analysis of a photo's field of view; the box, the mask and the surround test all read it."""

    height: int
    width: int
    small_mask: np.ndarray | None  # the bright region at the working size; None when there is none
    factor: float  # working size / photo size

    @property
    def fills_frame(self) -> bool:
        return self.small_mask is None or self.small_mask.mean() >= _FULL_FRAME

    def mask(self) -> np.ndarray:
        """Boolean mask at the photo's own size (all True when there is no bright region)."""
        if self.small_mask is None:
            return np.ones((self.height, self.width), dtype=bool)
        return cv2.resize(
            self.small_mask.astype(np.uint8), (self.width, self.height), interpolation=cv2.INTER_NEAREST
        ).astype(bool)

    def mask_at(self, size: tuple[int, int]) -> np.ndarray:
        """uint8 0/1 mask at (width, height) ``size``, resized from the working mask (all ones without one)."""
        if self.small_mask is None:
            return np.ones(size[::-1], dtype=np.uint8)
        return cv2.resize(self.small_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)

    def box(self) -> tuple[int, int, int, int]:
        """Bounding box (x0, y0, x1, y1; end exclusive) in original pixels; the whole photo without a surround."""
        mask = self.small_mask
        if mask is None or self.fills_frame:
            return 0, 0, self.width, self.height
        ys, xs = np.nonzero(mask)
        x0 = int(np.floor(xs.min() / self.factor))
        y0 = int(np.floor(ys.min() / self.factor))
        x1 = min(self.width, int(np.ceil((xs.max() + 1) / self.factor)))
        y1 = min(self.height, int(np.ceil((ys.max() + 1) / self.factor)))
        return x0, y0, x1, y1

    def square(self) -> tuple[int, int, int]:
        """(left, top, side) of the square around the field of view (may reach beyond the photo)."""
        return square_around(*self.box())

    def has_dark_surround(self) -> bool:
        """True for a fundus photo with a black surround; False for a crop that is all retina (ACRIMA).

        A circular field of view leaves the photo's corners dark: at least three of the four corner
        patches must lie mostly outside the bright region (dark patches inside a disc crop do not).
        """
        mask = self.small_mask
        if mask is None or self.fills_frame:
            return False
        rows, cols = mask.shape
        h, w = max(1, rows // 12), max(1, cols // 12)
        corners = [mask[:h, :w], mask[:h, -w:], mask[-h:, :w], mask[-h:, -w:]]
        return bool(sum(corner.mean() < 0.4 for corner in corners) >= 3)


def analyse_field_of_view(rgb: np.ndarray) -> FieldOfView:
    small, factor = _shrink(rgb)
    return FieldOfView(rgb.shape[0], rgb.shape[1], _largest_bright_component(small), factor)


def field_of_view_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean mask of the FOV at the photo's own size (all True when there is no dark surround)."""
    return analyse_field_of_view(rgb).mask()


def has_dark_surround(rgb: np.ndarray) -> bool:
    """See :meth:`FieldOfView.has_dark_surround`."""
    return analyse_field_of_view(rgb).has_dark_surround()


def find_field_of_view(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1; end exclusive) of the FOV in original pixels.

    The whole photo when no dark surround is found (optic-disc crops such as ACRIMA's).
    """
    return analyse_field_of_view(rgb).box()


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
