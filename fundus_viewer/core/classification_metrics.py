"""Classifier metrics: AUC with a bootstrap interval, accuracy, sensitivity, specificity."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from fundus_viewer.core.calibration import expected_calibration_error


def auc_with_interval(labels, scores, resamples: int = 2000, seed: int = 0, level: float = 0.95):
    """ROC AUC and its percentile bootstrap interval (resampling cases; NaN when one class is absent)."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    if len(np.unique(labels)) < 2:
        return float("nan"), (float("nan"), float("nan"))
    auc = float(roc_auc_score(labels, scores))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        if labels[pick].min() != labels[pick].max():
            values.append(roc_auc_score(labels[pick], scores[pick]))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return auc, (float(low), float(high))


def binary_report(labels, scores, threshold: float = 0.5) -> dict:
    """n, AUC (95% CI), accuracy, sensitivity, specificity at ``threshold`` on P(glaucoma)."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    predicted = (scores >= threshold).astype(int)
    positives, negatives = labels == 1, labels == 0
    auc, (low, high) = auc_with_interval(labels, scores)
    return {
        "n": int(len(labels)),
        "n_glaucoma": int(positives.sum()),
        "auc": auc,
        "auc_ci95": [low, high],
        "accuracy": float((predicted == labels).mean()) if len(labels) else float("nan"),
        "sensitivity": float(predicted[positives].mean()) if positives.any() else float("nan"),
        "specificity": float(1 - predicted[negatives].mean()) if negatives.any() else float("nan"),
        "threshold": float(threshold),
        "ece": expected_calibration_error(scores, labels) if len(labels) else float("nan"),
    }
