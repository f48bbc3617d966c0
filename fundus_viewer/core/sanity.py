"""The model-parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps"):
re-initialise the network's weights layer by layer from the top (the classifier head) down, each layer
with its own initialisation (``reset_parameters``: PyTorch's random init; a norm layer's identity), and see how
far each method's map moves from the trained model's. A map that stays the same explains the photo, not
what the network learned (Guided Backprop is the classic case); a map that falls apart with the weights
passes.

Per cascade step and method: the Spearman rank correlation and the SSIM (torchmetrics) of the map
against the trained model's, both on one grid (``SIDE`` px on the long side). A map with no heat at a
step has no similarity there (NaN), nor does the trained model's where it has none.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr

SIDE = 224
MAX_STEPS = 10


@dataclass
class SanityResult:
    steps: list[str]  # "trained", then the layers re-initialised so far, top first
    spearman: dict[str, list[list[float]]] = field(default_factory=dict)  # method -> photo -> step
    ssim: dict[str, list[list[float]]] = field(default_factory=dict)
    maps: dict[str, list[np.ndarray]] = field(default_factory=dict)  # method -> the first photo's map per step

    def mean(self, measure: str, method: str) -> list[float]:
        """Per step, the mean over the photos with a figure there."""
        rows = np.array(getattr(self, measure)[method], dtype=float)
        return [float(np.nanmean(col)) if np.isfinite(col).any() else math.nan for col in rows.T]


def weighted_layers(model: torch.nn.Module) -> list[str]:
    """Modules that hold their own weights (convolutions, linear layers, norms, and modules with bare
    parameters such as a learned scale), in the order they were registered (input to output)."""
    return [
        name for name, module in model.named_modules() if name and any(True for _ in module.parameters(recurse=False))
    ]


def reinitialise(module: torch.nn.Module) -> None:
    """The module's own initialisation where it has one; bare parameters drawn from N(0, 1)."""
    reset = getattr(module, "reset_parameters", None)
    if callable(reset):
        reset()
    else:
        for parameter in module.parameters(recurse=False):
            torch.nn.init.normal_(parameter)


def units(model: torch.nn.Module, layers: list[str]) -> list[list[str]]:
    """Layers in forward order as units: a norm layer goes with the layer before it (conv + BN are one
    step, as the literature randomises them)."""
    modules = dict(model.named_modules())
    norms = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm, torch.nn.LayerNorm)
    out: list[list[str]] = []
    for name in layers:
        if out and isinstance(modules[name], norms):
            out[-1].append(name)
        else:
            out.append([name])
    return out


def layers_to_the_logit(model: torch.nn.Module, x: torch.Tensor, index: int) -> list[str]:
    """The weighted layers the glaucoma logit depends on for input ``x``, in the order the forward pass
    runs them (a head the logit does not use, such as a cup-to-disc head, is no step of the cascade)."""
    candidates = dict((name, dict(model.named_modules())[name]) for name in weighted_layers(model))
    ran: list[str] = []
    hooks = [
        module.register_forward_hook(lambda _m, _i, _o, name=name: ran.append(name))
        for name, module in candidates.items()
    ]
    frozen = {p: p.requires_grad for p in model.parameters()}  # a loaded model is frozen for inference
    try:
        model.zero_grad(set_to_none=True)
        for parameter in frozen:
            parameter.requires_grad_(True)
        with torch.enable_grad():
            model(x)[:, index].sum().backward()
    finally:
        for hook in hooks:
            hook.remove()
        for parameter, flag in frozen.items():
            parameter.requires_grad_(flag)
    # reached by the backward pass (a gradient, zero or not: a ReLU may silence a layer for this one photo)
    used = [
        name
        for name in dict.fromkeys(ran)
        if any(p.grad is not None for p in candidates[name].parameters(recurse=False))
    ]
    model.zero_grad(set_to_none=True)
    return used


def cascade(layers: list, max_steps: int = MAX_STEPS) -> list[list[str]]:
    """The layers re-initialised at each step, top first. ``layers``: names, or units (lists of names,
    ``units``) kept together; more units than ``max_steps`` are grouped into ``max_steps`` consecutive
    blocks (the first block holds the head)."""
    top_down = [unit if isinstance(unit, list) else [unit] for unit in layers][::-1]
    if len(top_down) <= max_steps:
        return [list(unit) for unit in top_down]
    edges = np.linspace(0, len(top_down), max_steps + 1).round().astype(int)
    return [
        [name for unit in top_down[a:b] for name in unit] for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a
    ]


def compared_region(fov_mask: np.ndarray, seen_region: tuple[int, int, int, int]) -> np.ndarray:
    """Where maps are compared: the field of view within the part of the photo the model sees (x0, y0,
    x1, y1). Outside it every map is zero, and those ties would make any two maps look alike (a disc-
    centred model sees a square around the disc: over the whole field of view Guided Backprop's rank
    correlation stays at 0.998 however its map changes)."""
    x0, y0, x1, y1 = seen_region
    region = np.zeros(fov_mask.shape, bool)
    region[y0:y1, x0:x1] = fov_mask[y0:y1, x0:x1]
    return region


def bounding_slices(mask: np.ndarray) -> tuple[slice, slice]:
    """(rows, columns) of the smallest box around a mask's True pixels (everything when there are none)."""
    if not mask.any():
        return slice(None), slice(None)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def on_grid(heat: np.ndarray, side: int = SIDE) -> np.ndarray:
    height, width = heat.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.asarray(heat, dtype=np.float32), size, interpolation=cv2.INTER_AREA)


def similarity(a: np.ndarray, b: np.ndarray, inside: np.ndarray | None = None) -> tuple[float, float]:
    """(Spearman rank correlation, SSIM) of two maps in [0, 1] over ``inside`` (the field of view: the
    black surround, the same zero in every map, would make any two maps look alike), SSIM on its bounding
    box; NaN where either map has no heat."""
    if a.max(initial=0) <= 0 or b.max(initial=0) <= 0:
        return math.nan, math.nan
    inside = np.ones(a.shape, bool) if inside is None or not inside.any() else inside
    rho = spearmanr(a[inside], b[inside]).statistic
    crop = bounding_slices(inside)
    from torchmetrics.functional.image import structural_similarity_index_measure

    # Annotated ``Tensor | tuple[Tensor, Tensor]``: a tuple comes only with return_full_image or
    # return_contrast_sensitivity set, and neither is.
    ssim = cast(
        torch.Tensor,
        structural_similarity_index_measure(
            torch.from_numpy(a[crop])[None, None].double(),
            torch.from_numpy(b[crop])[None, None].double(),
            data_range=1.0,
        ),
    )
    return float(rho), float(ssim)


def randomisation_test(
    model: torch.nn.Module,
    photos: list,
    explain: Callable[[torch.nn.Module, object], dict[str, np.ndarray]],
    max_steps: int = MAX_STEPS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    copy_model: Callable[[], torch.nn.Module] | None = None,
    layers: list[str] | None = None,
    regions: list[np.ndarray] | None = None,
) -> SanityResult:
    """``explain(model, photo)``: each method's map of the photo (H x W, [0, 1]) by that model. The model
    itself is never changed: the cascade runs on a copy (``copy_model()``, e.g. the checkpoint loaded
    again; by default a deep copy), re-initialised cumulatively with a seed per step. ``layers``: the
    weighted layers in forward order (``layers_to_the_logit``; default: every weighted layer);
    ``regions``: per photo, where maps are compared (its field of view, photo-sized)."""
    blocks = cascade(units(model, layers or weighted_layers(model)), max_steps)
    inside = [on_grid(r.astype(np.float32)) >= 0.5 for r in regions] if regions else [None] * len(photos)
    result = SanityResult(steps=["trained"] + [b[0] if len(b) == 1 else f"{b[0]} .. {b[-1]}" for b in blocks])
    trained = [{m: on_grid(h) for m, h in explain(model, photo).items()} for photo in photos]
    for method in trained[0]:
        result.spearman[method] = [[1.0 if t[method].max(initial=0) > 0 else math.nan] for t in trained]
        result.ssim[method] = [[1.0 if t[method].max(initial=0) > 0 else math.nan] for t in trained]
        result.maps[method] = [trained[0][method]]
    randomised = copy_model() if copy_model is not None else copy.deepcopy(model)
    modules = dict(randomised.named_modules())
    for step, block in enumerate(blocks, start=1):
        torch.manual_seed(seed + step)
        with torch.no_grad():
            for name in block:
                reinitialise(modules[name])
        for index, photo in enumerate(photos):
            maps = {m: on_grid(h) for m, h in explain(randomised, photo).items()}
            for method, heat in maps.items():
                rho, ssim = similarity(trained[index][method], heat, inside[index])
                result.spearman[method][index].append(rho)
                result.ssim[method][index].append(ssim)
                if index == 0:
                    result.maps[method].append(heat)
        if progress is not None:
            progress(step, len(blocks))
    return result
