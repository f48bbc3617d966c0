"""Brightness, contrast, gamma and the red-free view: how the photo is shown, never what is analysed.

Every setting maps an 8-bit value to an 8-bit value, so all three are folded into one 256-entry lookup
table applied with ``cv2.LUT`` (a screen-sized tile costs about a millisecond). The red-free view is the
green channel shown as grey: the clinical "red-free" photograph, in which the nerve-fibre layer and its
wedge defects stand out best. CLAHE (contrast-limited adaptive histogram equalisation, as ophthalmic
viewers offer it) can enhance that grey; being local, it is computed once on each whole pyramid level,
on an 8 x 8 grid of tiles, so the enhancement of a spot does not change as the view pans or zooms.

Only the pixels on screen change: the classifier's input, its probability, the heat maps and every
export of them are made from the photo itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from fundus_viewer.core.pyramid import ImagePyramid

CLAHE_CLIP = 2.0  # OpenCV's usual clip limit for fundus photos: enhances the layer without amplifying noise
CLAHE_TILES = (8, 8)  # tiles across the whole level, so every level enhances the same photo regions


@dataclass(frozen=True)
class DisplaySettings:
    """``brightness`` is added as a fraction of full scale (-1 .. 1); ``contrast`` scales about mid-grey;
    ``gamma`` > 1 lifts the mid-tones, as a Levels dialog's gamma does (out = in ** (1 / gamma))."""

    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    red_free: bool = False
    clahe: bool = False  # only in the red-free view

    @property
    def tone_identity(self) -> bool:
        return self.brightness == 0 and self.contrast == 1 and self.gamma == 1

    @property
    def identity(self) -> bool:
        return self.tone_identity and not self.red_free


@lru_cache(maxsize=64)
def lookup_table(brightness: float = 0.0, contrast: float = 1.0, gamma: float = 1.0) -> np.ndarray:
    """The 256 output values of gamma, then contrast about mid-grey, then brightness (read-only)."""
    x = np.arange(256, dtype=np.float64) / 255.0
    x = x ** (1.0 / gamma)
    x = (x - 0.5) * contrast + 0.5 + brightness
    table = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    table.flags.writeable = False
    return table


def adjust(
    rgb: np.ndarray,
    brightness: float = 0.0,
    contrast: float = 1.0,
    gamma: float = 1.0,
    red_free: bool = False,
    clahe: bool = False,
) -> np.ndarray:
    """An (H, W, 3) uint8 image as the settings show it (uint8, same shape). The identity returns ``rgb``
    itself; red-free returns R = G = B = the (optionally CLAHE-enhanced) green channel, then the tones."""
    settings = DisplaySettings(brightness, contrast, gamma, red_free, clahe)
    return apply(rgb, settings, red_free_base(rgb, clahe) if red_free else None)


def red_free_base(rgb: np.ndarray, clahe: bool = False) -> np.ndarray:
    """The green channel (H, W) uint8, CLAHE-enhanced when asked."""
    green = np.ascontiguousarray(rgb[..., 1])
    if clahe:
        green = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_TILES).apply(green)
    return green


def apply(rgb: np.ndarray, settings: DisplaySettings, grey: np.ndarray | None = None) -> np.ndarray:
    """``rgb`` through the settings; in the red-free view ``grey`` is its ``red_free_base`` (given when a
    caller has it already, e.g. the CLAHE of a whole level cropped to this tile)."""
    if settings.identity:
        return rgb
    table = lookup_table(settings.brightness, settings.contrast, settings.gamma)
    if settings.red_free:
        if grey is None:
            grey = red_free_base(rgb, settings.clahe)
        grey = grey if settings.tone_identity else cv2.LUT(grey, table)
        return cv2.merge((grey, grey, grey))
    return cv2.LUT(np.ascontiguousarray(rgb), table)


class AdjustedPyramid:
    """Crops of an ``ImagePyramid`` as the settings show them. Only the crop on screen is adjusted; the
    CLAHE of a level (a local operation) is made once on the whole level and kept while the view lives."""

    def __init__(self, pyramid: ImagePyramid, settings: DisplaySettings):
        self.pyramid, self.settings = pyramid, settings
        self._enhanced: dict[int, np.ndarray] = {}
        self.width, self.height = pyramid.width, pyramid.height

    def level_for(self, photo_pixels_per_screen_pixel: float) -> int:
        return self.pyramid.level_for(photo_pixels_per_screen_pixel)

    def crop(
        self, level: int, region: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        tile, covered = self.pyramid.crop(level, region)
        grey = None
        if self.settings.red_free and self.settings.clahe:
            if level not in self._enhanced:
                self._enhanced[level] = red_free_base(self.pyramid.levels[level], clahe=True)
            (rows, cols) = self.pyramid.window(level, region)[0]
            grey = self._enhanced[level][rows, cols]
        return apply(tile, self.settings, grey), covered
