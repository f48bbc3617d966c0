"""Classifier metrics: AUC with a bootstrap interval, accuracy, sensitivity, specificity."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.metrics import roc_auc_score

from fundus_viewer.core.calibration import expected_calibration_error


def auc_with_interval(
    labels: ArrayLike, scores: ArrayLike, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """ROC AUC and its percentile bootstrap interval (``scipy.stats.bootstrap``, resampling cases).
    A resample with one class only has no AUC and is left out; NaN when the set has one class."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    if len(np.unique(labels)) < 2:
        return float("nan"), (float("nan"), float("nan"))

    def auc_of(picked_labels: np.ndarray, picked_scores: np.ndarray) -> float:
        if picked_labels.min() == picked_labels.max():
            return float("nan")
        return float(roc_auc_score(picked_labels, picked_scores))

    with warnings.catch_warnings():  # the NaN of one-class resamples is handled below
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            (labels, scores),
            auc_of,
            paired=True,
            vectorized=False,
            n_resamples=resamples,
            confidence_level=level,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(result.bootstrap_distribution, [tail, 100 - tail])
    return auc_of(labels, scores), (float(low), float(high))


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
