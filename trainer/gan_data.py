"""Patho-GAN's training pairs: a fundus photo and its vessel map, both cut to the square around the
field of view and resized to the GAN's size, with the optic disc located on the photo.

Vessel maps come from the shipped (or a given) vessel segmenter and are cached beside the run
(``OUT/vessel-cache``), or from expert vessel masks (``--vessels masks``: HRF, CHASE_DB1, DRIVE).
With a cup/disc segmenter (``--disc-cup``) each pair also carries its disc and cup masks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.fov import analyse_field_of_view
from fundus_viewer.core.gan.pairs import GanPair, make_pair
from trainer.epoch_data import EpochDataset

if TYPE_CHECKING:
    import torch

    from fundus_viewer.core.cup_disc import CupDiscSegmenter
    from fundus_viewer.core.gan.networks import GanSpec


def photo_pairs(
    data: str,
    cache: Path,
    size: int,
    disc_diameters: float,
    label: str,
    segmenter_path: str | Path | None = None,
    device: torch.device | str = "cpu",
    include_crops: bool = False,
    log: Callable[..., object] = print,
    cup_disc_model: CupDiscSegmenter | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> list[GanPair]:
    """Labelled photos of a manifest (or class folders), their vessel maps from the segmenter (cached);
    ``progress(done, total)`` before each photo and once after the last (``done == total``); segmenting
    a hundred takes minutes on a CPU."""
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.vessels import load_vessel_segmenter, segment_vessels
    from trainer.sources import DataError, read_labelled_photos

    samples = read_labelled_photos(data)
    if label != "all":
        samples = [s for s in samples if s.label == (1 if label == "glaucoma" else 0)]
    segmenter = None
    cache.mkdir(parents=True, exist_ok=True)
    pairs, skipped = [], 0
    for done, sample in enumerate(samples):
        if progress is not None:
            progress(done, len(samples))
        rgb = load_image(sample.path).rgb
        if not include_crops and not analyse_field_of_view(rgb).has_dark_surround():
            skipped += 1  # a disc crop (ACRIMA) has no vessel tree to draw a fundus from
            continue
        cached = cache / f"{sample.dataset}-{sample.path.stem}.vessels.png"
        stored = cv2.imread(str(cached), cv2.IMREAD_GRAYSCALE) if cached.exists() else None
        if stored is not None:
            vessels = stored.astype(np.float32) / 255
        else:  # not cached yet, or the cached map is unreadable: segment (again)
            segmenter = segmenter or load_vessel_segmenter(segmenter_path, device=device)
            vessels = segment_vessels(segmenter, rgb)
            encoded = cv2.imencode(".png", np.round(vessels * 255).astype(np.uint8))[1].tobytes()
            atomic_write(cached, encoded)  # runs may share the cache: each writes its own partial file
        pairs.append(
            make_pair(
                sample.path.name, sample.dataset, sample.label, rgb, vessels, size, disc_diameters, cup_disc_model
            )
        )
    if progress is not None:
        progress(len(samples), len(samples))
    if not pairs:
        raise DataError(
            f"{data}: no {label} full-field photos (a vessel tree to draw from)"
            + (f"; {skipped} disc crops skipped" if skipped else "")
        )
    log(f"{len(pairs)} photo / vessel-map pairs ({skipped} disc crops skipped)", file=sys.stderr)
    return pairs


def mask_pairs(
    data: str,
    size: int,
    disc_diameters: float,
    cup_disc_model: CupDiscSegmenter | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> list[GanPair]:
    """Photos with expert vessel masks (manifest rows role vessel_mask, or images/ + vessels/);
    ``progress(done, total)`` before each and once after the last (``done == total``)."""
    from trainer.vessel_sources import read_vessel_pairs

    pairs = []
    sources = read_vessel_pairs(data)
    for done, pair in enumerate(sources):
        if progress is not None:
            progress(done, len(sources))
        rgb, vessels, _fov = pair.load()
        pairs.append(
            make_pair(
                pair.photo.name,
                pair.dataset,
                None,
                rgb,
                vessels.astype(np.float32),
                size,
                disc_diameters,
                cup_disc_model,
            )
        )
    if progress is not None:
        progress(len(sources), len(sources))
    return pairs


def pair_key(pair: GanPair) -> str:
    """A pair's identity in a generator's split: a digest of its photo on the GAN's grid, so that the
    same photo is recognised under another name or folder, and two data sets' "01.png" are not confused."""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(pair.photo).tobytes()).hexdigest()[:20]


def split_pairs(pairs: list[GanPair], test_fraction: float, seed: int) -> tuple[list[GanPair], list[GanPair]]:
    """Held-out pairs for the report: a seeded draw, at least one."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_test = max(1, int(round(test_fraction * len(pairs)))) if len(pairs) > 1 else 0
    test = {int(i) for i in order[:n_test]}
    return [p for i, p in enumerate(pairs) if i not in test], [p for i, p in enumerate(pairs) if i in test]


def disc_radius_share(pairs: list[GanPair]) -> float | None:
    """Median segmented disc radius as a share of the field of view's diameter: the size a disc is drawn
    at for a bare vessel map (``conditions.disc_from_vessels``)."""
    shares = []
    for p in pairs:
        if p.disc is not None and p.fov is not None and p.fov.any():
            ys, xs = np.nonzero(p.fov > 0.5)
            shares.append(
                float(np.sqrt(p.disc.sum() / np.pi)) / float(max(xs.max() - xs.min(), ys.max() - ys.min()) + 1)
            )
    return float(np.median(shares)) if shares else None


class PairDataset(EpochDataset):
    """Random rotation (the paper's); the disc centre and every condition channel turn with the image.
    Items: (photo, condition, disc square); the photo is black outside its field of view where the
    generator is given one (so the real photo is what a perfect generator could make)."""

    def __init__(self, pairs: list[GanPair], rotate: bool, seed: int, spec: GanSpec | None = None) -> None:
        self.pairs, self.rotate, self.seed = pairs, rotate, seed
        self.spec = spec

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        import torch

        from fundus_viewer.core.gan.pathology_loss import rotate_point

        pair = self.pairs[index]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        photo, center = pair.photo, pair.disc_center
        condition = pair.condition(self.spec) if self.spec is not None else pair.vessels[None]
        size = photo.shape[0]
        if self.rotate:
            angle = float(rng.uniform(0, 360))
            matrix = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), angle, 1.0)
            photo = cv2.warpAffine(photo, matrix, (size, size), flags=cv2.INTER_LINEAR)
            condition = np.stack(
                [cv2.warpAffine(plane, matrix, (size, size), flags=cv2.INTER_LINEAR) for plane in condition]
            )
            center = rotate_point(center, angle, size)
        if self.spec is not None:
            condition[1:] = condition[1:] > 0.5  # masks (field, disc, cup) stay masks after the turn
            if self.spec.fov_channel:
                photo = photo * condition[1][..., None].astype(np.uint8)
        photo_t = torch.from_numpy(np.ascontiguousarray(photo.transpose(2, 0, 1))).float() / 255
        condition_t = torch.from_numpy(np.ascontiguousarray(condition)).float()
        return photo_t, condition_t, torch.tensor([center[0], center[1], pair.disc_side], dtype=torch.float32)
