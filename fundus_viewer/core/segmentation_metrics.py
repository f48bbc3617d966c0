"""Vessel segmentation metrics inside the field of view."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def segmentation_report(
    probability: np.ndarray,
    truth: np.ndarray,
    fov: np.ndarray,
    threshold: float = 0.5,
    auc_pixels: int = 200_000,
    seed: int = 0,
) -> dict:
    """Dice, sensitivity, specificity at ``threshold`` and pixel AUC, all inside ``fov``."""
    p = probability[fov].astype(np.float64)
    t = truth[fov].astype(bool)
    predicted = p >= threshold
    tp = float(np.sum(predicted & t))
    fp = float(np.sum(predicted & ~t))
    fn = float(np.sum(~predicted & t))
    tn = float(np.sum(~predicted & ~t))
    if len(np.unique(t)) > 1:
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(t), size=min(auc_pixels, len(t)), replace=False)
        auc = float(roc_auc_score(t[pick], p[pick]))
    else:
        auc = float("nan")
    return {
        "dice": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "specificity": tn / (tn + fp) if tn + fp else float("nan"),
        "auc": auc,
    }
