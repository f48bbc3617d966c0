"""Gradient-based feature combination (paper Eqs. 3-4) as one differentiable torch function.

The interactive sliders and Patho-GAN's L_patho both call :func:`combine_maps`: the sliders on cached,
detached tensors, the GAN on live ones with ``create_graph=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def map_weights(gradients: torch.Tensor) -> torch.Tensor:
    """Eq. 3: w^k = spatial mean of d(y_glaucoma)/dA^k. (..., K, h, w) -> (..., K)."""
    return gradients.mean(dim=(-2, -1))


def combine_maps(
    activations: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    size: tuple[int, int],
) -> torch.Tensor:
    """Eq. 4 summed over layers: V = sum_l upsample(sum_{k in U_l} w^k A^k) (signed, B x H x W).

    ``activations[l]``: B x K x h x w; ``weights[l]`` and ``masks[l]``: B x K. Each layer's sum is
    upsampled bilinearly (pixel centres aligned) to ``size`` before the layers are added. Upsampling
    is linear, so this equals upsampling every map first, at a fraction of the cost.
    """
    total = None
    for maps, w, keep in zip(activations, weights, masks, strict=True):
        layer = torch.einsum("bk,bkhw->bhw", w * keep.to(w.dtype), maps)
        if tuple(layer.shape[-2:]) != tuple(size):
            layer = F.interpolate(layer[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        total = layer if total is None else total + layer
    if total is None:
        raise ValueError("no layers to combine")
    return total


def common_grid(activations: Sequence[torch.Tensor]) -> tuple[int, int]:
    """The finest layer's resolution: every layer is brought to it before summing."""
    return max(((a.shape[-2], a.shape[-1]) for a in activations), key=lambda s: s[0] * s[1])
