"""A calibrated call: temperature scaling (Guo et al., 2017) fitted on validation logits, and a decision
threshold chosen there for a stated operating point, stored in the checkpoint so that every tool makes
the same call.

The temperature divides the logits before the softmax: it changes how confident P(glaucoma) is, and for
a two-class network never which photo ranks above which (so AUCs and heat maps are unchanged). The
threshold is then chosen on the calibrated validation probabilities as the lowest one whose specificity
reaches the target, which keeps the most sensitivity there; with several data sets, their specificities
count equally.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    threshold: float = 0.5  # on the calibrated P(glaucoma)
    operating_point: str = "the uncalibrated default, P >= 0.5"
    fitted_on: str = ""  # which photos, how many
    validation: dict | None = None  # sensitivity / specificity / ECE before and after, on those photos

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Calibration:
        if not data:
            return cls()
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def calibrated(self) -> bool:
        return bool(self.fitted_on)

    def says(self) -> str:
        """What the call means, in one line for a clinician."""
        if not self.calibrated:
            return "call at P >= 0.50 (this model is not calibrated)"
        return f"call at P >= {self.threshold:.2f}, chosen for {self.operating_point} ({self.fitted_on})"


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, glaucoma_index: int = 1) -> float:
    """The T > 0 minimising the binary negative log-likelihood of ``labels`` (1 = glaucoma) under
    P(glaucoma) = softmax(logits / T)[glaucoma_index], whatever the other classes are."""
    from scipy.optimize import minimize_scalar

    logits, labels = np.asarray(logits, np.float64), np.asarray(labels) == 1

    def nll(log_t: float) -> float:
        p = np.clip(softmax(logits, float(np.exp(log_t)))[:, glaucoma_index], 1e-12, 1 - 1e-12)
        return -float(np.where(labels, np.log(p), np.log1p(-p)).mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


MIN_NORMALS = 5  # a data set with fewer normal validation photos is pooled with the other small ones


def threshold_for_specificity(probabilities: np.ndarray, labels: np.ndarray, specificity: float, groups=None) -> float:
    """The threshold t (a call is P >= t) with the most sensitivity whose specificity on these photos is
    >= ``specificity``, placed halfway between the observed P it must clear and the next one up (so that
    no validation photo sits on it). With ``groups`` (each photo's data set), the specificity is the
    mean of the groups' own, so that a large source does not set the call for the small ones: a
    threshold right for one camera only is wrong for the camera a user brings. Groups with fewer than
    ``MIN_NORMALS`` normal photos are pooled into one, whose specificity would otherwise move in steps
    of a half or a third."""
    if not 0 < specificity <= 1:
        raise ValueError(f"the specificity is a fraction in (0, 1], not {specificity}")
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, np.float64)
    if labels.min() == labels.max():
        raise ValueError("choosing a threshold needs glaucoma and normal photos")
    groups = np.zeros(len(labels), int) if groups is None else np.asarray(groups, dtype=object)
    normals = [probabilities[(groups == g) & (labels == 0)] for g in sorted(set(groups))]
    large = [n for n in normals if len(n) >= MIN_NORMALS]
    small = [n for n in normals if 0 < len(n) < MIN_NORMALS]
    normals = large + ([np.concatenate(small)] if small else [])
    candidates = np.append(np.unique(probabilities), np.nextafter(probabilities.max(), np.inf))
    for i, t in enumerate(candidates):  # specificity only grows with t: the first that reaches the target
        if np.mean([(n < t).mean() for n in normals]) >= specificity - 1e-12:
            return float(t if i == 0 else (candidates[i - 1] + t) / 2)
    return float(candidates[-1])


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE of P(glaucoma): |observed glaucoma fraction - mean P| per equal-width bin, weighted by the bin's share."""
    import torch
    from torchmetrics.functional.classification import binary_calibration_error

    p = torch.as_tensor(np.asarray(probabilities, np.float32))
    y = torch.as_tensor(np.asarray(labels, np.int64))
    return float(binary_calibration_error(p, y, n_bins=bins, norm="l1"))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean P, observed glaucoma fraction, photos) of each non-empty equal-width bin: the reliability diagram."""
    probabilities, labels = np.asarray(probabilities, np.float64), np.asarray(labels)
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    return [
        (float(probabilities[index == b].mean()), float(labels[index == b].mean()), int((index == b).sum()))
        for b in range(bins)
        if (index == b).any()
    ]


def calibrate(
    logits: np.ndarray, labels: np.ndarray, glaucoma_index: int, specificity: float, fitted_on: str, groups=None
) -> Calibration:
    """Temperature and threshold from validation logits (``groups``: each photo's data set, weighted
    equally in the specificity); what they do there is kept with them."""
    labels = np.asarray(labels)
    temperature = fit_temperature(logits, labels, glaucoma_index)
    before = softmax(logits)[:, glaucoma_index]
    after = softmax(logits, temperature)[:, glaucoma_index]
    threshold = threshold_for_specificity(after, labels, specificity, groups)
    called = after >= threshold
    validation: dict[str, float | dict[str, float]] = {
        "n": int(len(labels)),
        "sensitivity": float(called[labels == 1].mean()),
        "specificity": float((~called[labels == 0]).mean()),
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
    }
    point = f"specificity {specificity:.2f}"
    if groups is not None and len(set(groups)) > 1:
        groups = np.asarray(groups)
        validation["specificity_by_source"] = {
            str(g): float((~called[(groups == g) & (labels == 0)]).mean())
            for g in sorted(set(groups))
            if ((groups == g) & (labels == 0)).any()
        }
        point += " averaged over the data sets (each weighted equally)"
    return Calibration(temperature, threshold, point, fitted_on, validation)
