"""The part of a photo a map covers (the network's input), as overlays draw it: faded at its edge, outlined.

NumPy only, no OpenCV: the window's view imports it at start-up.
"""

from __future__ import annotations

import numpy as np

# A map ends where the network's input ends, often at high heat: cut off there, its edge reads as a
# finding. It fades to nothing over this fraction of the analysed region's shorter side instead, and
# the region is outlined faintly (the numbers, .npy files and metrics keep the map as it is).
EDGE_FADE = 0.04
OUTLINE_ALPHA = 0.35
Extent = tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels


def edge_fade(shape: tuple[int, int], region: Extent, extent: Extent) -> tuple[np.ndarray, np.ndarray]:
    """Factors in [0, 1] per column and per row of a raster of ``shape`` (rows, columns) that covers
    ``region`` of the photo: 0 outside ``extent`` and at its edge, rising linearly to 1 over the band."""
    ex0, ey0, ex1, ey1 = extent
    band = EDGE_FADE * min(ex1 - ex0, ey1 - ey0)
    factors = []
    for count, low, high, e_low, e_high in (
        (shape[1], region[0], region[2], ex0, ex1),
        (shape[0], region[1], region[3], ey0, ey1),
    ):
        centres = low + (np.arange(count, dtype=np.float32) + 0.5) * np.float32((high - low) / count)
        inside = np.minimum(centres - e_low, e_high - centres)
        factors.append(np.clip(inside / band, 0, 1) if band > 0 else (inside > 0).astype(np.float32))
    return factors[0], factors[1]


def fade_edges(values: np.ndarray, region: Extent, extent: Extent) -> np.ndarray:
    """Scale ``values`` (a raster over ``region``, any numeric dtype) in place by ``edge_fade``; only the
    rows and columns in the band are touched, so a screen-size raster costs a few of its lines."""
    fx, fy = edge_fade(values.shape[:2], region, extent)
    cols, rows = np.flatnonzero(fx < 1), np.flatnonzero(fy < 1)
    if cols.size:
        values[:, cols] = values[:, cols] * fx[cols]
    if rows.size:
        values[rows] = values[rows] * fy[rows, None]
    return values
