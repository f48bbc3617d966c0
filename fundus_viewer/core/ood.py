"""How unlike the training photos a photo is, so a clinician is told when not to trust the numbers.

The score is the deep nearest-neighbour distance (Sun et al., ICML 2022): the photo's features, the
global average of the classifier's last spatial layer (its CAM layer), L2-normalised, and the cosine
distance to the k-th nearest of the training photos' features, which the checkpoint carries. The flag's
threshold is a percentile of the validation photos' scores (95th: one in-distribution photo in twenty is
flagged), stated with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

BANK_KEY = "ood.features"  # the training photos' features, stored beside the weights


@dataclass(frozen=True)
class OodRule:
    k: int = 10
    threshold: float = float("inf")
    percentile: float = 95.0
    fitted_on: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> OodRule | None:
        if not data:
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class OodScore:
    score: float
    threshold: float

    @property
    def flagged(self) -> bool:
        return self.score > self.threshold

    def says(self) -> str:
        if self.flagged:
            return (
                f"unlike the training photos (OOD {self.score:.3f} > {self.threshold:.3f}): do not trust these numbers"
            )
        return f"like the training photos (OOD {self.score:.3f} <= {self.threshold:.3f})"


@contextmanager
def pooled_features(model, wanted: bool | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, every forward pass of ``model`` records its L2-normalised GAP features of the
    CAM layer in ``box["features"]`` (B x D, detached). ``wanted`` defaults to whether the model has a
    bank to score them against; without one, no hook (and no CAM layer needed)."""
    box: dict[str, torch.Tensor] = {}
    if not (model.ood_bank is not None if wanted is None else wanted):
        yield box
        return
    module = model.get_submodule(model.cam_layer)

    def hook(_module, _inputs, output):
        box["features"] = F.normalize(output.detach().float().mean(dim=(-2, -1)), dim=1)

    handle = module.register_forward_hook(hook)
    try:
        yield box
    finally:
        handle.remove()


def features_of(model, inputs, device, batch_size: int = 64) -> torch.Tensor:
    """N x D features of N model inputs (a tensor, or an iterable of batches, so that a whole data set
    need not be in memory at once), without gradients, on the CPU."""
    batches = (
        (inputs[start : start + batch_size] for start in range(0, len(inputs), batch_size))
        if torch.is_tensor(inputs)
        else inputs
    )
    out = []
    with torch.no_grad(), pooled_features(model, wanted=True) as box:
        for batch in batches:
            model(batch.to(device))
            out.append(box["features"].cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)


def knn_distance(bank: torch.Tensor, features: torch.Tensor, k: int) -> np.ndarray:
    """1 - cosine similarity to the k-th nearest bank row, per feature row (both L2-normalised)."""
    similarity = features.float().to(bank.device) @ bank.float().T
    k = min(k, bank.shape[0])
    # rounding (a float16 bank) can push a near-copy's similarity past 1: a distance is never negative
    return (1.0 - similarity.topk(k, dim=1).values[:, -1]).clamp(min=0).numpy().astype(np.float64)


def fit_rule(
    bank: torch.Tensor, validation: torch.Tensor, k: int = 10, percentile: float = 95.0, fitted_on: str = ""
) -> OodRule:
    """The flag's threshold: the ``percentile`` of the validation photos' distances to the bank."""
    if len(bank) < k or not len(validation):
        raise ValueError(f"an OOD rule needs at least {k} training photos and one validation photo")
    bank = bank.half().float()  # as the checkpoint stores it, so the rule fits what is scored
    threshold = float(np.percentile(knn_distance(bank, validation, k), percentile))
    return OodRule(k, threshold, percentile, fitted_on)


def score(bank: torch.Tensor, rule: OodRule, features: torch.Tensor) -> list[OodScore]:
    return [OodScore(float(d), rule.threshold) for d in knn_distance(bank, features, rule.k)]
