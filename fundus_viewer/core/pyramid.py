"""A photo at several resolutions, so that a view draws what the screen shows, not what the camera wrote.

Level 0 is the photo; each next level halves it (area-averaged, OpenCV: no GIL held) until the long side
is at most ``smallest``. A view picks the coarsest level that still has a pixel per screen pixel and crops
the visible region from it: a 12 MP photo fitted to a 1,000-pixel view is drawn from a 0.75 MP level.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


class ImagePyramid:
    def __init__(self, rgb: np.ndarray, smallest: int = 640):
        self.height, self.width = rgb.shape[:2]
        self.levels = [rgb]
        while max(self.levels[-1].shape[:2]) > smallest:
            h, w = self.levels[-1].shape[:2]
            self.levels.append(
                cv2.resize(self.levels[-1], (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
            )

    def level_for(self, photo_pixels_per_screen_pixel: float) -> int:
        """The coarsest level whose pixels are no larger than a screen pixel."""
        if not photo_pixels_per_screen_pixel > 1:
            return 0
        return min(len(self.levels) - 1, int(math.floor(math.log2(photo_pixels_per_screen_pixel) + 1e-9)))

    def crop(
        self, level: int, region: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """The pixels of ``level`` covering ``region`` (x0, y0, x1, y1 in photo coordinates, where photo
        pixel x spans [x, x + 1)), and the region those pixels cover exactly (it is snapped outwards to
        the level's pixel edges, clipped to the photo)."""
        (rows, cols), covered = self.window(level, region)
        return self.levels[level][rows, cols], covered

    def window(
        self, level: int, region: tuple[float, float, float, float]
    ) -> tuple[tuple[slice, slice], tuple[float, float, float, float]]:
        """The (rows, cols) slices of ``level`` that ``crop`` returns, and the region they cover: an image
        made from a whole level (its CLAHE, say) is cropped to the same pixels."""
        h, w = self.levels[level].shape[:2]
        fx, fy = w / self.width, h / self.height
        x0, y0, x1, y1 = region
        i0, j0 = max(0, math.floor(x0 * fx)), max(0, math.floor(y0 * fy))
        i1, j1 = min(w, math.ceil(x1 * fx)), min(h, math.ceil(y1 * fy))
        i1, j1 = max(i1, i0 + 1), max(j1, j0 + 1)
        return (slice(j0, j1), slice(i0, i1)), (i0 / fx, j0 / fy, i1 / fx, j1 / fy)

    @property
    def nbytes(self) -> int:
        return sum(level.nbytes for level in self.levels[1:])  # level 0 is the photo itself
