"""Heat maps drawn over photos with perceptually uniform colour maps (never jet)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fundus_viewer.core.atomic import atomic_write

COLORMAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS, "cividis": cv2.COLORMAP_CIVIDIS}


def colorize(heat: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """[0, 1] map -> RGB uint8."""
    # rounds and saturates; the max first, as convertScaleAbs would turn a negative value into its size
    levels = cv2.convertScaleAbs(cv2.max(np.asarray(heat, dtype=np.float32), 0.0), alpha=255.0)
    return np.ascontiguousarray(cv2.applyColorMap(levels, COLORMAPS[colormap])[..., ::-1])


def overlay(rgb: np.ndarray, heat: np.ndarray, colormap: str = "inferno", opacity: float = 0.6) -> np.ndarray:
    """Blend where there is heat: cold pixels show the photo, hot ones the colour map at ``opacity``."""
    # OpenCV's weighted blend: no float copy of a 12 MP photo, and the GIL is free meanwhile
    alpha = np.clip(np.asarray(heat, dtype=np.float32) * np.float32(opacity), 0, 1)
    return cv2.blendLinear(np.ascontiguousarray(rgb), colorize(heat, colormap), np.float32(1) - alpha, alpha)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """RGB (H x W x 3) or grey (H x W) uint8 to PNG, atomically."""
    path = Path(path)
    pixels = image if image.ndim == 2 else image[..., ::-1]
    ok, data = cv2.imencode(".png", np.ascontiguousarray(pixels))
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    return atomic_write(path, data.tobytes())
