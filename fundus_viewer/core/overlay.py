"""Heat maps drawn over photos with perceptually uniform colour maps (never jet)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fundus_viewer.core.analysed_region import OUTLINE_ALPHA, Extent, fade_edges
from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.drawing_colours import HEAT_COLORMAPS

COLORMAPS = {name: getattr(cv2, f"COLORMAP_{name.upper()}") for name in HEAT_COLORMAPS}


def colorize(heat: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """[0, 1] map -> RGB uint8."""
    # rounds and saturates; the max first, as convertScaleAbs would turn a negative value into its size
    levels = cv2.convertScaleAbs(cv2.max(np.asarray(heat, dtype=np.float32), 0.0), alpha=255.0)
    return np.ascontiguousarray(cv2.applyColorMap(levels, COLORMAPS[colormap])[..., ::-1])


def overlay(
    rgb: np.ndarray,
    heat: np.ndarray,
    colormap: str = "inferno",
    opacity: float = 0.6,
    extent: Extent | None = None,
) -> np.ndarray:
    """Blend where there is heat: cold pixels show the photo, hot ones the colour map at ``opacity``.
    With ``extent`` (the part of the photo the network saw), the heat fades out at its edge and the
    region is outlined faintly; nothing is drawn outside it."""
    # OpenCV's weighted blend: no float copy of a 12 MP photo, and the GIL is free meanwhile
    alpha = np.clip(np.asarray(heat, dtype=np.float32) * np.float32(opacity), 0, 1)
    height, width = alpha.shape
    if extent is not None:
        fade_edges(alpha, (0, 0, width, height), extent)
    out = cv2.blendLinear(np.ascontiguousarray(rgb), colorize(heat, colormap), np.float32(1) - alpha, alpha)
    if extent is not None and tuple(extent) != (0, 0, width, height):
        _outline(out, extent)
    return out


def _outline(out: np.ndarray, extent: Extent) -> None:
    """A faint white frame, about a screen pixel wide at a fitted view, on the region's edge (in place)."""
    height, width = out.shape[:2]
    thick = max(1, round(min(height, width) / 800))
    x0, y0 = max(0, int(round(extent[0]))), max(0, int(round(extent[1])))
    x1, y1 = min(width, int(round(extent[2]))), min(height, int(round(extent[3])))
    for part in (
        out[y0 : y0 + thick, x0:x1],
        out[max(y0, y1 - thick) : y1, x0:x1],
        out[y0:y1, x0 : x0 + thick],
        out[y0:y1, max(x0, x1 - thick) : x1],
    ):
        part[...] = cv2.addWeighted(part, 1 - OUTLINE_ALPHA, np.full_like(part, 255), OUTLINE_ALPHA, 0)


def encode_png(image: np.ndarray) -> bytes:
    """RGB (H x W x 3) or grey (H x W) uint8 as the bytes of a PNG file."""
    pixels = image if image.ndim == 2 else image[..., ::-1]
    ok, data = cv2.imencode(".png", np.ascontiguousarray(pixels))
    if not ok:
        raise OSError("PNG encoding failed")
    return data.tobytes()


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """RGB (H x W x 3) or grey (H x W) uint8 to PNG, atomically."""
    path = Path(path)
    try:
        data = encode_png(image)
    except OSError:
        raise OSError(f"{path}: PNG encoding failed") from None
    return atomic_write(path, data)
