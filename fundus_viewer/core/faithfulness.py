"""Faithfulness: does removing what a map calls relevant change the network's answer? Deletion and
insertion curves (Petsiuk et al. 2018, RISE) on the model input.

Deletion: the input's pixels are replaced by a baseline (black, the colour outside a fundus photo's
field of view) in the map's order, most relevant first, ``steps`` equal steps; the curve is the glaucoma
score after each step, its area (over the deleted fraction 0..1) small for a faithful map. Insertion:
from a blurred copy of the input, the original pixels come back in the same order; the area is large for
a faithful map. Ties in the map (a flat map, the zeros of a sparse one) are broken at random (seeded), so a
flat map gives the random-order curve: chance.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

FAITHFULNESS = ("deletion", "insertion")
STEPS = 20
BLUR_SIGMA = 0.1  # of the input's side: the insertion's start, the photo without its detail


def pixel_order(relevance: np.ndarray, seed: int = 0) -> np.ndarray:
    """Flat pixel indices, most relevant first, ties in a seeded random order."""
    values = np.asarray(relevance, dtype=np.float64).ravel()
    tie_break = np.random.default_rng(seed).random(values.size)
    return np.lexsort((tie_break, -values))


def perturbation_curve(
    score: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    relevance: np.ndarray,
    start: torch.Tensor,
    steps: int = STEPS,
    seed: int = 0,
    batch_size: int = 21,
) -> np.ndarray:
    """The score of ``steps + 1`` inputs: step k puts ``start``'s values in the first k / steps of the
    pixels in the map's order and keeps ``x`` elsewhere (deletion: start = the baseline; insertion: call
    it with x and start swapped and the same order). ``x``, ``start``: 1 x C x H x W; ``relevance``: H x W;
    ``score``: a batch of inputs to one number each."""
    _, channels, height, width = x.shape
    if relevance.shape != (height, width):
        raise ValueError(f"the map is {relevance.shape[1]} x {relevance.shape[0]}, the input {width} x {height}")
    order = torch.from_numpy(pixel_order(relevance, seed)).to(x.device)
    n = height * width
    counts = [round(k * n / steps) for k in range(steps + 1)]
    rank = torch.empty(n, dtype=torch.long, device=x.device)
    rank[order] = torch.arange(n, device=x.device)
    flat_x, flat_start = x.reshape(1, channels, n), start.reshape(1, channels, n)
    values = []
    for first in range(0, len(counts), batch_size):
        chunk = torch.tensor(counts[first : first + batch_size], device=x.device).view(-1, 1, 1)
        replaced = rank.view(1, 1, n) < chunk  # the first `count` pixels of the order
        inputs = torch.where(replaced, flat_start, flat_x).reshape(-1, channels, height, width)
        with torch.no_grad():
            values.append(score(inputs).detach().float().cpu().numpy().reshape(-1))
    return np.concatenate(values)


def curve_area(curve: np.ndarray) -> float:
    """The area under a curve sampled at equal steps over [0, 1] (trapezoids)."""
    curve = np.asarray(curve, dtype=np.float64)
    return float((curve.sum() - (curve[0] + curve[-1]) / 2) / (len(curve) - 1))  # numpy's trapezoid is 2.0 only


def blurred(x: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """The input blurred with a Gaussian of ``sigma`` x its side, channel by channel."""
    image = x[0].detach().cpu().numpy().transpose(1, 2, 0)
    out = cv2.GaussianBlur(np.ascontiguousarray(image), (0, 0), sigma * max(image.shape[:2]))
    out = out.reshape(image.shape)
    return torch.from_numpy(out.transpose(2, 0, 1).copy()).unsqueeze(0).to(x.dtype).to(x.device)


def faithfulness_scores(
    score,
    x: torch.Tensor,
    relevance: np.ndarray,
    black: torch.Tensor,
    metrics=FAITHFULNESS,
    steps: int = STEPS,
    seed: int = 0,
) -> dict[str, float]:
    """The deletion area (towards ``black``) and the insertion area (from the blurred input)."""
    out = {}
    if "deletion" in metrics:
        out["deletion"] = curve_area(perturbation_curve(score, x, relevance, black, steps, seed))
    if "insertion" in metrics:
        out["insertion"] = curve_area(perturbation_curve(score, blurred(x), relevance, x, steps, seed))
    return out
