"""Turning a signed map into what is displayed and scored: its positive part, scaled to [0, 1]."""

from __future__ import annotations

import cv2
import numpy as np


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
