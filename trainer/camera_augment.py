"""Training-time changes that imitate another fundus camera: a colour cast, a tone curve, defocus, JPEG
compression, vignetting and an uneven illumination. A classifier that learnt on four sources meets photos
of a fifth camera; each change here is one way cameras differ (sensor colour response and white balance,
gamma, optics and focus, the export's compression, the flash's fall-off and the pupil's shadow).

Every change is drawn independently with probability ``p``, from the sample's own generator, on float
RGB in [0, 255].
"""

from __future__ import annotations

import cv2
import numpy as np


def camera_augment(rgb: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """H x W x 3 float32 in [0, 255] -> the same photo as another camera might have taken it."""
    out: np.ndarray = rgb.astype(np.float32, copy=True)
    height, width = out.shape[:2]
    if rng.random() < p:  # white balance and sensor response: per-channel gains up to +-20 %
        out *= rng.uniform(0.8, 1.2, size=3).astype(np.float32)
    if rng.random() < p:  # tone curve
        out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
    if rng.random() < p:  # defocus / softer optics, up to 1 % of the side
        sigma = rng.uniform(0.3, 1.0) * max(height, width) / 100
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if rng.random() < p:  # vignetting: brightness falls towards the edge by up to 40 %
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        radius = np.hypot((xx - width / 2) / (width / 2), (yy - height / 2) / (height / 2)) / np.sqrt(2)
        out *= (1.0 - rng.uniform(0.1, 0.4) * radius**2)[..., None]
    if rng.random() < p:  # uneven illumination: a linear ramp across the photo, +-25 % at its ends
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        ramp = ((xx - width / 2) * np.cos(angle) + (yy - height / 2) * np.sin(angle)) / (max(height, width) / 2)
        out *= (1.0 + rng.uniform(0.05, 0.25) * ramp)[..., None]
    out = np.clip(out, 0, 255)
    if rng.random() < p:  # the export's JPEG compression
        ok, encoded = cv2.imencode(
            ".jpg",
            cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))],
        )
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(np.float32)
    return out
