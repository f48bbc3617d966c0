"""Localisation accuracy (paper section 5.2): the share of a heat map's mass inside the ground truth."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

Box = Sequence[float]  # COCO: x, y, width, height in original pixels


def boxes_mask(shape: tuple[int, int], boxes: Iterable[Box]) -> np.ndarray:
    """Pixels whose centre lies inside any box (the union: overlapping boxes count once)."""
    height, width = shape
    mask = np.zeros((height, width), dtype=bool)
    for x, y, w, h in boxes:
        # pixel j is inside when x <= j + 0.5 < x + w
        x0 = max(0, int(np.ceil(x - 0.5)))
        x1 = min(width, int(np.ceil(x + w - 0.5)))
        y0 = max(0, int(np.ceil(y - 0.5)))
        y1 = min(height, int(np.ceil(y + h - 0.5)))
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = True
    return mask


def localization_accuracy(heat: np.ndarray, boxes: Iterable[Box]) -> float:
    """Acc = sum of heat inside the boxes / total heat. NaN when the map has no heat at all."""
    heat = np.asarray(heat, dtype=np.float64)
    return region_accuracy(heat, boxes_mask(heat.shape, boxes))


def region_accuracy(heat: np.ndarray, region: np.ndarray) -> float:
    """The same for any region (a boolean mask of the heat map's shape, e.g. the neuroretinal rim,
    disc and not cup): heat inside / total heat; NaN when the map has no heat at all."""
    heat = np.asarray(heat, dtype=np.float64)
    if (heat < 0).any():
        raise ValueError("localisation accuracy needs a non-negative heat map")
    if region.shape != heat.shape:
        raise ValueError(
            f"the region is {region.shape[1]} x {region.shape[0]}, the heat map {heat.shape[1]} x {heat.shape[0]}"
        )
    total = heat.sum()
    if total <= 0:
        return float("nan")
    return float(heat[region].sum() / total)


def uniform_accuracy(shape: tuple[int, int], boxes: Iterable[Box]) -> float:
    """What a flat map scores: the boxes' share of the image (the chance level)."""
    return float(boxes_mask(shape, boxes).mean())


def mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean and sample standard deviation over the finite values, and how many there were."""
    finite = np.array([v for v in values if np.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return float("nan"), float("nan"), 0
    std = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    return float(finite.mean()), std, int(finite.size)
