"""L_patho = | V(X_real) - V(X_syn) |_1, with V the visualiser's RL / RNFLD heat maps computed by the
frozen classifier on what it would see of each image (its own crop), differentiably.

The crop is fixed by the REAL photo (its optic disc, located once); the synthetic photo, made from the
same vessel map, is cut at the same place with differentiable tensor ops, so the gradient of L_patho
flows from the classifier's maps through the crop into the generator.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from fundus_viewer.core.transform import InputTransform
from fundus_viewer.core.visualization.pathology import pathology_maps
from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS, Thresholds

SETS = {"rl": ("rl",), "rnfld": ("rnfld",), "both": ("rl", "rnfld")}


def classifier_input(image: torch.Tensor, transform: InputTransform) -> torch.Tensor:
    """One 3 x S x S image in [0, 1] -> the classifier's crop x crop input, as ``transform.to_input``
    does with OpenCV (black beyond the photo; bilinear, antialiased when shrinking), but differentiable."""
    _, height, width = image.shape
    left, top, side = transform.left, transform.top, transform.side
    pad = (max(0, -left), max(0, left + side - width), max(0, -top), max(0, top + side - height))
    padded = F.pad(image, pad) if any(pad) else image
    square = padded[:, top + pad[2] : top + pad[2] + side, left + pad[0] : left + pad[0] + side]
    resized = F.interpolate(
        square[None],
        size=(transform.resize, transform.resize),
        mode="bilinear",
        align_corners=False,
        antialias=transform.resize < side,
    )[0]
    start = int(round(transform.offset))
    return resized[:, start : start + transform.crop, start : start + transform.crop]


def as_batch(images: np.ndarray, device) -> torch.Tensor:
    """N x S x S x 3 uint8 photos -> N x 3 x S x S floats in [0, 1] on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255).to(device)


def classifier_batch(images: torch.Tensor, transforms: list[InputTransform]) -> torch.Tensor:
    return torch.stack([classifier_input(image, t) for image, t in zip(images, transforms, strict=True)])


def crop_transform(classifier, disc_center: tuple[float, float], disc_side: int, size: int) -> InputTransform:
    """The classifier's input transform for an S x S image whose disc square is centred at ``disc_center``."""
    spec = classifier.spec
    cx, cy = disc_center
    return InputTransform(
        size,
        size,
        int(round(cx - disc_side / 2)),
        int(round(cy - disc_side / 2)),
        int(disc_side),
        spec.resize or spec.input_size,
        spec.input_size,
    )


def rotate_point(point: tuple[float, float], degrees: float, size: int) -> tuple[float, float]:
    """Where (x, y) goes when an S x S image turns by ``degrees`` about its centre (cv2's convention)."""
    c = (size - 1) / 2
    a = math.radians(degrees)
    x, y = point[0] - c, point[1] - c
    # cv2.getRotationMatrix2D(angle) turns counter-clockwise on screen (y down)
    return (c + x * math.cos(a) + y * math.sin(a), c - x * math.sin(a) + y * math.cos(a))


def pathology_loss(
    classifier,
    real: torch.Tensor,
    synthetic: torch.Tensor,
    transforms: list[InputTransform],
    which: str = "both",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
):
    """(L_patho, V_real, V_syn). V(real) is computed with a graph (its activations need gradients for
    the map weights) but nothing of it is trained; V(syn) keeps its graph so L_patho reaches G."""
    x_real = classifier_batch(real, transforms).detach().requires_grad_(True)
    x_syn = classifier_batch(synthetic, transforms)
    v_real = pathology_maps(classifier, x_real, thresholds=thresholds, create_graph=False)
    first = next(iter(v_real.values()))
    grid = (first.shape[-2], first.shape[-1])
    v_syn = pathology_maps(classifier, x_syn, thresholds=thresholds, create_graph=True, size=grid)
    keys = SETS[which]
    loss = sum((v_real[k].detach() - v_syn[k]).abs().mean() for k in keys) / len(keys)
    return loss, {k: v_real[k].detach() for k in keys}, {k: v_syn[k] for k in keys}


def heat_distance(
    classifier, real: torch.Tensor, synthetic: torch.Tensor, transforms: list[InputTransform], which: str = "both"
) -> np.ndarray:
    """Per-image mean |V(real) - V(syn)| (the evaluation form of L_patho)."""
    with torch.enable_grad():
        _, v_real, v_syn = pathology_loss(classifier, real, synthetic.detach(), transforms, which)
    keys = SETS[which]
    return np.mean([(v_real[k] - v_syn[k].detach()).abs().mean(dim=(1, 2)).cpu().numpy() for k in keys], axis=0)
