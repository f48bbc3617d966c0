"""Synthetic fundus photos from vessel maps (or from photos, whose vessels are segmented first)."""

from __future__ import annotations

import numpy as np
import torch

from fundus_viewer.core.fov import analyse_field_of_view
from fundus_viewer.core.transform import padded_square, resize_square


def is_vessel_map(rgb: np.ndarray) -> bool:
    """A vessel map is grey (all channels equal) and mostly dark; a photo is coloured."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]) and rgb.mean() < 96)


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


def synthesize(generator, vessels: np.ndarray, samples: int = 1, seed: int = 0, batch_size: int = 8) -> np.ndarray:
    """``vessels``: N x S x S in [0, 1] -> N x samples x S x S x 3 uint8. Noise codes come from ``seed``,
    one per (map, sample), so the same seed gives the same photos whatever the batch size."""
    device = next(generator.parameters()).device
    n, size = len(vessels), vessels.shape[-1]
    rng = torch.Generator().manual_seed(seed)
    noise = torch.randn((n, samples, generator.spec.noise_channels, size, size), generator=rng) * generator.spec.noise_sigma
    out = np.empty((n, samples, size, size, 3), dtype=np.uint8)
    jobs = [(i, k) for i in range(n) for k in range(samples)]
    with torch.no_grad():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            y = torch.stack([torch.from_numpy(np.ascontiguousarray(vessels[i], dtype=np.float32))[None] for i, _ in chunk]).to(device)
            z = torch.stack([noise[i, k] for i, k in chunk]).to(device)
            images = generator(y, z).clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            for (i, k), image in zip(chunk, images):
                out[i, k] = image
    return out
