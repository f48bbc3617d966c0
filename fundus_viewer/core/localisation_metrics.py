"""Localisation metrics of a heat map against a region (a box, or the rim), beyond the paper's relevance
mass (``metrics.region_accuracy``), as the XAI-evaluation literature defines them (Quantus collects them):

- pointing game (Zhang et al. 2018, without a tolerance margin): is the map's peak inside the region?
- relevance rank accuracy (Arras et al. 2022): of the K most relevant pixels, K = the region's size, the
  share inside it;
- top-k intersection (Theiner et al. 2022): the same for a fixed k, a share of the image's pixels;
- AUC: the map as a score of "inside the region", the area under its ROC curve (scikit-learn).

Two choices differ from Quantus's code, both so that a flat map scores chance and ties do not decide:
ties are split evenly (a peak shared by n pixels, m of them inside, scores m / n; the last ranks are
filled by the tied pixels in proportion), and only pixels with relevance > 0 are ranked (a map that marks
one pixel inside the box scores 1, not 1 / K plus whatever zeros an argsort puts first). Where maps have
no ties the figures equal Quantus's (tests/test_localisation_metrics.py checks).

A flat map scores the region's share of the image on the first three, 0.5 on AUC.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.stats import rankdata

from fundus_viewer.core.metrics import region_accuracy

LOCALISATION = ("accuracy", "pointing-game", "rank-accuracy", "top-k", "auc")
TOP_K_FRACTION = 0.02  # Quantus's default k = 1000 of 224 x 224 pixels
METRIC_SIDE = 512  # the metrics' grid: maps come from grids of at most 56 cells, so nothing is lost


def on_metric_grid(heat: np.ndarray, region: np.ndarray, side: int = METRIC_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The map (area-averaged) and the region (a pixel is inside when at least half of it is) on a grid
    whose long side is ``side``: a 12 MP photo's 12 million pixels need not be sorted for each metric."""
    height, width = heat.shape
    scale = side / max(height, width)
    if scale >= 1:
        return np.asarray(heat, dtype=np.float64), region.astype(bool)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    heat = np.asarray(heat, dtype=np.float64)
    # float64: a float32 area average of a flat map is not flat to the last bit, and ties decide chance
    small = (
        np.full(size[::-1], heat.flat[0])
        if heat.min() == heat.max()
        else cv2.resize(heat, size, interpolation=cv2.INTER_AREA)
    )
    inside = cv2.resize(region.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    return small, inside


def pointing_game(heat: np.ndarray, region: np.ndarray) -> float:
    """The share of the map's peak pixels inside the region (1 or 0 for a single peak); NaN without heat."""
    heat, region = _flat(heat, region)
    if heat.max(initial=0) <= 0 or not region.any():
        return math.nan
    peak = heat == heat.max()
    return float(region[peak].mean())


def top_share(heat: np.ndarray, region: np.ndarray, k: int) -> float:
    """Of the ``k`` most relevant pixels (only relevance > 0 is ranked; ties at the last rank taken in
    proportion), the share inside the region; NaN without heat."""
    heat, region = _flat(heat, region)
    positive = heat > 0
    k = min(int(k), int(positive.sum()))
    if k <= 0:
        return math.nan
    values = heat[positive]
    inside = region[positive]
    threshold = np.partition(values, values.size - k)[values.size - k]  # the k-th largest
    above = values > threshold
    tied = values == threshold
    taken_inside = inside[above].sum() + (k - above.sum()) * inside[tied].mean()
    return float(taken_inside / k)


def rank_accuracy(heat: np.ndarray, region: np.ndarray) -> float:
    """``top_share`` with k = the region's size; NaN for an empty region."""
    size = int(np.count_nonzero(region))
    return top_share(heat, region, size) if size else math.nan


def top_k_intersection(heat: np.ndarray, region: np.ndarray, fraction: float = TOP_K_FRACTION) -> float:
    return top_share(heat, region, max(1, round(fraction * heat.size)))


def region_auc(heat: np.ndarray, region: np.ndarray) -> float:
    """P(a pixel inside scores above one outside), ties counting half (Mann-Whitney from average ranks,
    the same as scikit-learn's roc_auc_score, without its sort of every threshold); NaN without heat."""
    heat, region = _flat(heat, region)
    n_in, n_out = int(region.sum()), int((~region).sum())
    if n_in == 0 or n_out == 0 or heat.max(initial=0) <= 0:  # a map without heat claims nothing: no score
        return math.nan
    ranks = rankdata(heat)
    return float((ranks[region].sum() - n_in * (n_in + 1) / 2) / (n_in * n_out))


def localisation_scores(heat: np.ndarray, region: np.ndarray, metrics=LOCALISATION) -> dict[str, float]:
    """Every asked metric of one map against one region; relevance mass ("accuracy", the paper's) on the
    photo's own grid, the rest on the metric grid."""
    scores = {}
    if "accuracy" in metrics:
        scores["accuracy"] = region_accuracy(heat, region)
    rest = [m for m in metrics if m != "accuracy"]
    if rest:
        small, inside = on_metric_grid(heat, region)
        functions = {
            "pointing-game": pointing_game,
            "rank-accuracy": rank_accuracy,
            "top-k": top_k_intersection,
            "auc": region_auc,
        }
        for metric in rest:
            scores[metric] = functions[metric](small, inside)
    return scores


def _flat(heat, region) -> tuple[np.ndarray, np.ndarray]:
    heat, region = np.asarray(heat, dtype=np.float64).ravel(), np.asarray(region, dtype=bool).ravel()
    if heat.shape != region.shape:
        raise ValueError(f"the region has {region.size} pixels, the map {heat.size}")
    return heat, region
