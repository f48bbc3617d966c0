"""Synthetic fundus photos from vessel maps (or from photos, whose vessels are segmented first).

``synthesis_input`` turns either into what a generator takes (``conditions``): the vessel map, the
field of view (a photo's own; a bare map's centred circle) and, for a generator trained with disc and
cup masks, those masks: the photo's segmented ones, or drawn where the vessel tree converges, with the
cup set to a chosen vertical cup-to-disc ratio (``vcdr``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fundus_viewer.core.fov import analyse_field_of_view
from fundus_viewer.core.gan.conditions import (
    DEFAULT_DISC_RADIUS,
    disc_from_vessels,
    drawn_disc_cup,
    map_fov,
    segmented_disc_cup,
    stack_condition,
    with_vcdr,
)
from fundus_viewer.core.transform import padded_square, resize_square

# A bare vessel map's cup, where no vCDR is asked for: a physiological cup.
DEFAULT_VCDR = 0.4


@dataclass
class SynthesisInput:
    vessels: np.ndarray  # S x S float32 in [0, 1]
    fov: np.ndarray  # S x S float32 0/1
    disc: np.ndarray | None = None  # S x S float32 0/1 (generators that take them)
    cup: np.ndarray | None = None
    photo: np.ndarray | None = None  # the photo on the same grid, when the input was one
    disc_drawn: bool = False  # the disc was drawn where the vessel tree converges, not segmented

    def condition(self, spec) -> np.ndarray:
        return stack_condition(spec, self.vessels, self.fov, self.disc, self.cup)


def is_vessel_map(rgb: np.ndarray) -> bool:
    """A vessel map is grey (all channels equal) and mostly dark; a photo is coloured."""
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]) and rgb.mean() < 96
    )


def vessel_map_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """A vessel map (probability or mask, any size) on the GAN's S x S grid: padded square, resized."""
    grey = rgb[..., 0].astype(np.float32) / 255
    return resize_square(grey, padded_square(*grey.shape), size).clip(0, 1)


def photo_vessel_input(rgb: np.ndarray, size: int, segmenter) -> tuple[np.ndarray, np.ndarray]:
    """(vessel map, photo) of a photo on the GAN's grid: segmented, cut to its field-of-view square."""
    from fundus_viewer.core.vessels import segment_vessels

    square = analyse_field_of_view(rgb).square()
    vessels = segment_vessels(segmenter, rgb)
    return resize_square(vessels.astype(np.float32), square, size).clip(0, 1), resize_square(rgb, square, size)


def synthesis_input(
    spec, rgb: np.ndarray, segmenter=None, cup_disc_model=None, vcdr: float | None = None
) -> SynthesisInput:
    """What a generator of ``spec`` takes for one vessel map or photo (``segmenter``: the vessel
    segmenter, needed for a photo; ``cup_disc_model``: for a photo's disc and cup, where the generator
    takes them). A photo whose disc the segmenter does not find gets one drawn, as a bare map does."""
    size = spec.size
    if is_vessel_map(rgb):
        vessels, photo = vessel_map_input(rgb, size), None
        fov = map_fov(rgb.shape[:2], size)
    else:
        if segmenter is None:
            raise ValueError("a photo needs the vessel segmenter")
        fov_analysis = analyse_field_of_view(rgb)
        vessels, photo = photo_vessel_input(rgb, size, segmenter)
        fov = (resize_square(fov_analysis.mask().astype(np.float32), fov_analysis.square(), size) > 0.5).astype(
            np.float32
        )
    disc = cup = None
    drawn = False
    if spec.disc_cup:
        masks = segmented_disc_cup(cup_disc_model, photo) if photo is not None and cup_disc_model is not None else None
        if masks is not None:
            disc, cup = masks
            if vcdr is not None:
                cup = with_vcdr(disc, vcdr)
        else:
            radius = spec.training.get("disc_radius_share") or DEFAULT_DISC_RADIUS
            center, r = disc_from_vessels(vessels, fov, radius)
            disc, cup = drawn_disc_cup(size, center, r, DEFAULT_VCDR if vcdr is None else vcdr)
            drawn = True
    elif vcdr is not None:
        raise ValueError("this generator takes no disc or cup (trained without --disc-cup): it cannot set a vCDR")
    return SynthesisInput(vessels, fov, disc, cup, photo, drawn)


def synthesize(
    generator,
    conditions: np.ndarray,
    samples: int = 1,
    seed: int = 0,
    batch_size: int = 8,
    fov: np.ndarray | None = None,
) -> np.ndarray:
    """``conditions``: N x C x S x S (``SynthesisInput.condition``; N x S x S vessel maps for a generator
    that takes nothing else) -> N x samples x S x S x 3 uint8. Noise codes come from ``seed``, one per
    (map, sample), so the same seed gives the same photos whatever the batch size. ``fov`` (N x S x S):
    black outside it, for generators that do not take the field of view themselves."""
    device = next(generator.parameters()).device
    conditions = np.asarray(conditions, dtype=np.float32)
    if conditions.ndim == 3:
        conditions = conditions[:, None]
    n, size = len(conditions), conditions.shape[-1]
    rng = torch.Generator().manual_seed(seed)
    noise = (
        torch.randn((n, samples, generator.spec.noise_channels, size, size), generator=rng) * generator.spec.noise_sigma
    )
    out = np.empty((n, samples, size, size, 3), dtype=np.uint8)
    jobs = [(i, k) for i in range(n) for k in range(samples)]
    with torch.no_grad():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            y = torch.stack([torch.from_numpy(np.ascontiguousarray(conditions[i])) for i, _ in chunk]).to(device)
            z = torch.stack([noise[i, k] for i, k in chunk]).to(device)
            images = generator(y, z).clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            for (i, k), image in zip(chunk, images, strict=True):
                out[i, k] = image
    if fov is not None:
        out *= (np.asarray(fov) > 0.5).astype(np.uint8)[:, None, :, :, None]
    return out
