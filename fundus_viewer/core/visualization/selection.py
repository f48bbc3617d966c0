"""Pathology-aware feature selection (paper section 4.1, Eqs. 1-2).

Activation: keep map k of layer l when ``||A^k||_1 > theta_act * max_n ||A^n||_1`` (Eq. 1).

CMI: ``J_k = sum_ij ((i - i_c)^2 + (j - j_c)^2) * A^k_ij`` about the map's own centroid (Eq. 2).
J carries the map's brightness as well as its spread, as the paper intends.

The paper's CMI thresholds (0.1, 0.9) are fractions, so J is normalised within each layer before it is
compared with them. Two normalisations are offered:

- ``"rank"`` (default): a map's rank among the layer's *active* maps, scaled to [0, 1] (0 = smallest
  J, 1 = largest). 0.9 / 0.1 then keep the top / bottom tenth of the active maps by CMI, whatever the
  outliers, so each set always holds a tenth of the active maps.
- ``"max"``: ``J / max_n J_n`` over all maps of the layer, mirroring Eq. 1's use of the layer's largest
  L1 norm. High CMI = within 10% of the layer's largest moment; low CMI = under a tenth of it. One
  outlier map can leave the high set with a single member.

Why rank is the default: with the bundled classifier, "max" left the RL map empty (no positive
weighted evidence) on 13 of 65 Drishti-GS1 glaucoma photos and the RNFLD map on 3, "rank" on 9 and 0,
and "rank" put slightly more of the RL heat on the optic disc (9.3x vs 9.0x the disc box's share).

U_high (rim loss, RL) = active and normalised J > theta_high;
U_low (RNFL defect, RNFLD) = active and normalised J < theta_low.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

NORMALIZATIONS = ("max", "rank")


@dataclass(frozen=True)
class Thresholds:
    theta_act: float = 0.1
    cmi_low: float = 0.1
    cmi_high: float = 0.9
    normalization: str = "rank"

    def __post_init__(self):
        if not 0.0 <= self.theta_act <= 1.0:
            raise ValueError(f"theta_act must lie in [0, 1], got {self.theta_act}")
        if not 0.0 <= self.cmi_low <= self.cmi_high <= 1.0:
            raise ValueError(f"need 0 <= cmi_low <= cmi_high <= 1, got {self.cmi_low}, {self.cmi_high}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"CMI normalisation must be one of {NORMALIZATIONS}, got {self.normalization!r}")


DEFAULT_THRESHOLDS = Thresholds()  # the paper's; a shared default is safe, as Thresholds is frozen


def l1_norms(activations: torch.Tensor) -> torch.Tensor:
    """||A||_1 of every map: (..., K, h, w) -> (..., K)."""
    return activations.abs().sum(dim=(-2, -1))


def centroid_moment_of_inertia(activations: torch.Tensor) -> torch.Tensor:
    """Eq. 2 for every map: (..., K, h, w) -> (..., K). Negative values count as zero mass."""
    mass_map = activations.clamp(min=0)
    rows, cols = mass_map.shape[-2:]
    i = torch.arange(rows, dtype=mass_map.dtype, device=mass_map.device).view(rows, 1)
    j = torch.arange(cols, dtype=mass_map.dtype, device=mass_map.device).view(1, cols)
    mass = mass_map.sum(dim=(-2, -1))
    safe = torch.where(mass > 0, mass, torch.ones_like(mass))
    i_c = (mass_map * i).sum(dim=(-2, -1)) / safe
    j_c = (mass_map * j).sum(dim=(-2, -1)) / safe
    distance = (i - i_c[..., None, None]) ** 2 + (j - j_c[..., None, None]) ** 2
    return (distance * mass_map).sum(dim=(-2, -1))


def normalized_cmi(cmi: torch.Tensor, active: torch.Tensor, normalization: str = "rank") -> torch.Tensor:
    """CMI scaled to [0, 1] within the layer (last dimension), as described in the module docstring."""
    if normalization == "max":
        top = cmi.amax(dim=-1, keepdim=True)
        return torch.where(top > 0, cmi / torch.where(top > 0, top, torch.ones_like(top)), torch.zeros_like(cmi))
    if normalization == "rank":
        # Inactive maps sort below every active one; ranks are then re-based on the active count.
        keyed = torch.where(active, cmi, torch.full_like(cmi, -torch.inf))
        order = keyed.argsort(dim=-1, stable=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(-1, order, torch.arange(cmi.shape[-1], device=cmi.device).expand_as(order))
        n_active = active.sum(dim=-1, keepdim=True)
        first_active = cmi.shape[-1] - n_active
        span = (n_active - 1).clamp(min=1)
        scaled = (ranks - first_active).to(cmi.dtype) / span.to(cmi.dtype)
        return torch.where(active, scaled, torch.zeros_like(scaled))
    raise ValueError(f"unknown CMI normalisation {normalization!r}")


class MapSelection(NamedTuple):
    """The maps of one layer that ``select_maps`` keeps: boolean masks, each shaped like ``l1`` (..., K).
    Unpacks and indexes as ``(active, high, low)``."""

    active: torch.Tensor  # Eq. 1
    high: torch.Tensor  # active and high CMI: U_high, the rim loss (RL) map's
    low: torch.Tensor  # active and low CMI: U_low, the RNFL defect (RNFLD) map's


def select_maps(l1: torch.Tensor, cmi: torch.Tensor, thresholds: Thresholds) -> MapSelection:
    """Boolean masks (active, high CMI = RL, low CMI = RNFLD), each shaped like ``l1`` (..., K)."""
    active = l1 > thresholds.theta_act * l1.amax(dim=-1, keepdim=True)
    j = normalized_cmi(cmi, active, thresholds.normalization)
    high = active & (j > thresholds.cmi_high)
    low = active & (j < thresholds.cmi_low)
    return MapSelection(active, high, low)
