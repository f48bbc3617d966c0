"""The exact geometric link between an original photo and the classifier's input.

A photo is cropped to its field of view, padded to a square, resized and (optionally) centre-cropped.
Every step is an axis-aligned scale and shift, so one affine map, kept here, takes any heat map
computed at the model's resolution back onto the ORIGINAL pixel grid, where a clinician's boxes live.

Pixel-centre convention (OpenCV's and torch's ``align_corners=False``): a pixel with index ``x`` covers
``[x, x + 1)`` and its centre is ``x + 0.5``. With ``s = resize / side``::

    u + 0.5 = (x + 0.5 - left) * s - offset        (x: original column, u: input column)

and the same for rows with ``top``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import cv2
import numpy as np

from fundus_viewer.core.disc import OpticDisc, disc_square
from fundus_viewer.core.fov import FieldOfView, find_field_of_view, square_around


class CropRecipe(Protocol):
    """How a model cuts its input from a photo: a classifier's spec and the cup/disc segmenter's both
    are one (``InputTransform.for_recipe``)."""

    @property
    def input_size(self) -> int: ...

    @property
    def resize(self) -> int | None: ...

    @property
    def crop(self) -> str: ...  # "fov", "disc" or "none"

    @property
    def disc_diameters(self) -> float: ...


@dataclass(frozen=True)
class InputTransform:
    """Original photo (height x width) <-> model input (crop x crop)."""

    height: int
    width: int
    left: int  # the square's top-left corner in original pixels (may be negative: padding)
    top: int
    side: int  # the square's side in original pixels
    resize: int  # the square is resized to resize x resize ...
    crop: int  # ... and its centre crop x crop is the model input

    @classmethod
    def for_image(
        cls,
        rgb: np.ndarray,
        input_size: int,
        resize: int | None = None,
        crop: str = "fov",
        disc_diameters: float = 2.5,
        fov: FieldOfView | None = None,
        disc: OpticDisc | None = None,
    ):
        """The square the model sees.

        ``crop="fov"``: around the field of view (the whole photo where there is no black surround);
        ``"disc"``: centred on the optic disc, ``disc_diameters`` disc diameters wide (a photo that is
        already a disc crop is used whole); ``"none"``: the whole photo, padded square.
        ``fov`` and ``disc``: the photo's field of view and disc where they are known already
        (``fundus_viewer.core.photo.PreparedPhoto`` passes them, so nothing is located twice).
        """
        height, width = rgb.shape[:2]
        if crop == "disc":
            left, top, side = disc_square(rgb, disc_diameters, disc)
            return cls(height, width, left, top, side, resize or input_size, input_size)
        if crop == "fov":
            x0, y0, x1, y1 = fov.box() if fov is not None else find_field_of_view(rgb)
        elif crop == "none":
            x0, y0, x1, y1 = 0, 0, width, height
        else:
            raise ValueError(f"unknown crop {crop!r}; use fov, disc or none")
        left, top, side = square_around(x0, y0, x1, y1)
        return cls(height, width, left, top, side, resize or input_size, input_size)

    @classmethod
    def for_recipe(
        cls, rgb: np.ndarray, recipe: CropRecipe, fov: FieldOfView | None = None, disc: OpticDisc | None = None
    ) -> InputTransform:
        """``for_image`` with the sizes and crop a model's spec names."""
        return cls.for_image(rgb, recipe.input_size, recipe.resize, recipe.crop, recipe.disc_diameters, fov, disc)

    @property
    def offset(self) -> float:
        return (self.resize - self.crop) / 2.0

    @property
    def scale(self) -> float:
        """Input pixels per original pixel."""
        return self.resize / self.side

    def to_input(self, rgb: np.ndarray) -> np.ndarray:
        """Crop, pad with black, resize (area-averaged when shrinking) and centre-crop."""
        square = crop_square(rgb, self.left, self.top, self.side)
        interpolation = cv2.INTER_AREA if self.resize < self.side else cv2.INTER_LINEAR
        resized = cv2.resize(square, (self.resize, self.resize), interpolation=interpolation)
        start = int(round(self.offset))
        return np.ascontiguousarray(resized[start : start + self.crop, start : start + self.crop])

    def input_points(self, xy: np.ndarray) -> np.ndarray:
        """Original (x, y) pixel coordinates -> input coordinates (same convention)."""
        xy = np.asarray(xy, dtype=np.float64)
        origin = np.array([self.left, self.top], dtype=np.float64)
        return (xy + 0.5 - origin) * self.scale - self.offset - 0.5

    def original_points(self, uv: np.ndarray) -> np.ndarray:
        """Input (u, v) coordinates -> original pixel coordinates."""
        uv = np.asarray(uv, dtype=np.float64)
        origin = np.array([self.left, self.top], dtype=np.float64)
        return (uv + 0.5 + self.offset) / self.scale + origin - 0.5

    def to_original(self, grid: np.ndarray) -> np.ndarray:
        """Resample a map covering the model input (any g x g grid) onto the original photo.

        Bilinear inside the region the model saw; zero outside it (e.g. the black margins of a
        wide photo), so heat never appears where the network had no pixels.
        """
        grid = np.asarray(grid, dtype=np.float32)
        x0, y0, x1, y1 = self.seen_region
        if x1 <= x0 or y1 <= y0:
            return np.zeros((self.height, self.width), dtype=np.float32)
        # Zero only the margins: the seen region is overwritten below (and a full np.zeros of a
        # large photo costs more than the resampling).
        out = np.empty((self.height, self.width), dtype=np.float32)
        out[:y0] = 0
        out[y1:] = 0
        out[y0:y1, :x0] = 0
        out[y0:y1, x1:] = 0
        if self.resize == self.crop:
            # The grid covers exactly the square [left, left + side): cv2.resize uses the same
            # pixel-centre convention, and is several times faster than a general warp.
            square = cv2.resize(grid, (self.side, self.side), interpolation=cv2.INTER_LINEAR)
            out[y0:y1, x0:x1] = square[y0 - self.top : y1 - self.top, x0 - self.left : x1 - self.left]
            return out
        (a_x, b_x), (a_y, b_y) = self.grid_axes(grid.shape)
        # The warp writes only the seen region: shift the origin to (x0, y0).
        b_x, b_y = b_x + a_x * x0, b_y + a_y * y0
        matrix = np.array([[a_x, 0.0, b_x], [0.0, a_y, b_y]], dtype=np.float64)
        out[y0:y1, x0:x1] = cv2.warpAffine(
            grid,
            matrix,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return out

    def grid_axes(self, grid_shape: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
        """((a_x, b_x), (a_y, b_y)) such that, for a g_rows x g_cols map covering the model input,
        grid column = a_x * x + b_x and grid row = a_y * y + b_y at photo pixel (x, y) (centres, as above)."""
        g_rows, g_cols = grid_shape

        def axis(cells: int, origin: int) -> tuple[float, float]:
            a = self.scale * cells / self.crop
            return a, ((0.5 - origin) * self.scale - self.offset) * cells / self.crop - 0.5

        return axis(g_cols, self.left), axis(g_rows, self.top)

    def resample(
        self, grid: np.ndarray, region: tuple[float, float, float, float], size: tuple[int, int]
    ) -> np.ndarray:
        """A map over the model input sampled on a ``size`` = (width, height) raster covering ``region`` =
        (x0, y0, x1, y1) of the photo, in the coordinates where photo pixel x spans [x, x + 1).

        The same bilinear map as :meth:`to_original`, at any resolution: a view draws the part it shows
        at screen resolution; ``resample(grid, (0, 0, width, height), (width, height))`` is
        ``to_original(grid)``. Zero where the output pixel's centre lies outside ``seen_region``.
        """
        grid = np.asarray(grid, dtype=np.float32)
        (a_x, b_x), (a_y, b_y) = self.grid_axes(grid.shape)
        x0, y0, x1, y1 = region
        width, height = size
        step_x, step_y = (x1 - x0) / width, (y1 - y0) / height
        # output pixel j's centre is at photo coordinate x0 + (j + 0.5) step, photo pixel index that - 0.5
        matrix = np.array(
            [
                [a_x * step_x, 0.0, a_x * (x0 + 0.5 * step_x - 0.5) + b_x],
                [0.0, a_y * step_y, a_y * (y0 + 0.5 * step_y - 0.5) + b_y],
            ]
        )
        out = cv2.warpAffine(
            grid,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        sx0, sy0, sx1, sy1 = self.seen_region
        centres_x = x0 + (np.arange(width) + 0.5) * step_x
        centres_y = y0 + (np.arange(height) + 0.5) * step_y
        out[(centres_y < sy0) | (centres_y >= sy1)] = 0
        out[:, (centres_x < sx0) | (centres_x >= sx1)] = 0
        return out

    def peak(self, grid: np.ndarray) -> float:
        """The largest value of ``to_original(grid)`` (0 if none is positive), without making it.

        Within one grid cell the bilinear map is linear along each axis, so over the photo's pixels in
        that cell it is largest on the cell's first or last pixel column and row: at most 2 (g + 1)
        columns and rows need evaluating, not the photo's millions of pixels.
        """
        grid = np.asarray(grid, dtype=np.float64)
        x0, y0, x1, y1 = self.seen_region
        if x1 <= x0 or y1 <= y0:
            return 0.0
        (a_x, b_x), (a_y, b_y) = self.grid_axes(grid.shape)
        rows = _interpolation_matrix(_cell_ends(a_y * np.arange(y0, y1) + b_y, grid.shape[0]), grid.shape[0])
        cols = _interpolation_matrix(_cell_ends(a_x * np.arange(x0, x1) + b_x, grid.shape[1]), grid.shape[1])
        return max(0.0, float((rows @ grid @ cols.T).max()))

    @cached_property
    def seen_region(self) -> tuple[int, int, int, int]:
        """The part of the original photo (x0, y0, x1, y1; end exclusive) inside the model input."""
        first = self.original_points(np.array([-0.5, -0.5])) + 0.5
        last = self.original_points(np.array([self.crop - 0.5, self.crop - 0.5])) + 0.5
        x0, y0 = (max(0, int(np.floor(v + 1e-6))) for v in first)
        x1 = min(self.width, int(np.ceil(last[0] - 1e-6)))
        y1 = min(self.height, int(np.ceil(last[1] - 1e-6)))
        return x0, y0, x1, y1


def _cell_ends(coords: np.ndarray, cells: int) -> np.ndarray:
    """Of increasing grid coordinates, the first and last that fall in each cell (and beyond each edge)."""
    cell = np.clip(np.floor(coords), -1, cells - 1)
    change = np.flatnonzero(np.diff(cell))
    return coords[np.unique(np.concatenate(([0, len(coords) - 1], change, change + 1)))]


def _interpolation_matrix(coords: np.ndarray, cells: int) -> np.ndarray:
    """n x cells weights of linear interpolation at ``coords``, edge values repeated outside (OpenCV's
    BORDER_REPLICATE)."""
    u = np.clip(coords, 0, cells - 1)
    first = np.floor(u).astype(int)
    second = np.minimum(first + 1, cells - 1)
    t = u - first
    matrix = np.zeros((len(u), cells))
    np.add.at(matrix, (np.arange(len(u)), first), 1 - t)
    np.add.at(matrix, (np.arange(len(u)), second), t)
    return matrix


def crop_square(rgb: np.ndarray, left: int, top: int, side: int, border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """The square [left, left + side) x [top, top + side) of a photo; black (or ``border``) where it leaves the
    photo."""
    height, width = rgb.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, width), min(top + side, height)
    inner = rgb[y0:y1, x0:x1]
    return cv2.copyMakeBorder(
        inner,
        y0 - top,
        top + side - y1,
        x0 - left,
        left + side - x1,
        border,
        value=0,
    )


def padded_square(height: int, width: int) -> tuple[int, int, int]:
    """(left, top, side) of the square that holds a whole height x width image, centred."""
    return square_around(0, 0, width, height)


def resize_square(
    image: np.ndarray, square: tuple[int, int, int], size: int, upscale: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """``crop_square`` at (left, top, side), resized to size x size (area-averaged when shrinking)."""
    left, top, side = square
    return cv2.resize(
        crop_square(image, left, top, side), (size, size), interpolation=cv2.INTER_AREA if side > size else upscale
    )
