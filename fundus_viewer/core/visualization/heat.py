"""Turning a signed map into what is displayed and scored: its positive part, scaled to [0, 1], on the
photo's own grid (export, metrics) or on a view's (drawing)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from fundus_viewer.core.transform import InputTransform


def positive_normalized(signed: np.ndarray) -> np.ndarray:
    """max(V, 0) / max(V): float32, non-negative, peak 1 (all zeros when V has no positive value)."""
    signed = np.ascontiguousarray(signed, dtype=np.float32)
    if signed.size == 0:
        return signed.copy()
    # OpenCV's threshold and min/max are several times faster than numpy's on a full photo.
    _, heat = cv2.threshold(signed, 0.0, 0.0, cv2.THRESH_TOZERO)
    heat = heat.reshape(signed.shape)
    peak = cv2.minMaxLoc(heat.reshape(signed.shape[0], -1))[1]
    if peak > 0:
        heat *= 1.0 / peak
    return heat


@dataclass(eq=False)
class GridMap:
    """A heat map as the network made it: a small signed grid over the model input and the transform
    that places it on the photo.

    ``full()`` is the map on the photo's own grid (what export and the metrics use: made on demand and
    not kept, a 12 MP photo's map is 48 MB); ``render(region, size)`` is the part a view shows, at the
    view's resolution, scaled by the same peak, so it is the full map resampled.
    """

    grid: np.ndarray
    transform: InputTransform

    def full(self) -> np.ndarray:
        """max(V, 0) / max(V) on the photo's pixels: float32, H x W, peak 1 (zeros without positive heat)."""
        return positive_normalized(self.transform.to_original(self.grid))

    @cached_property
    def peak(self) -> float:
        return self.transform.peak(self.grid)

    @property
    def extent(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the part of the photo the map covers; zero heat everywhere else."""
        return self.transform.seen_region

    def render(self, region: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
        """The map over ``region`` (x0, y0, x1, y1; photo pixel x spans [x, x + 1)) on a ``size`` =
        (width, height) raster, in [0, 1]."""
        values = self.transform.resample(self.grid, region, size)
        if self.peak <= 0:
            values[:] = 0
            return values
        _, values = cv2.threshold(values, 0.0, 0.0, cv2.THRESH_TOZERO)
        values = values.reshape(size[1], size[0])
        # between pixel centres bilinear sampling can pass the pixels' peak by a hair when zoomed in
        return np.minimum(values * np.float32(1.0 / self.peak), np.float32(1.0), out=values)
