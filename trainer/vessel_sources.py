"""Photo / vessel-mask pairs for the vessel segmenter: from a manifest (pair_id links a photo, its
vessel_mask and an optional fov_mask) or a folder with images/, vessels/ and optional fov/ (same stems);
and the random patches it trains on."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from fundus_viewer.core.fov import field_of_view_mask
from fundus_viewer.core.images import IMAGE_SUFFIXES, load_image
from trainer.epoch_data import EpochDataset
from trainer.sources import DataError


@dataclass
class VesselPair:
    photo: Path
    vessels: Path
    fov: Path | None
    dataset: str
    group: str  # photos of one subject share a group and a split side

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb, vessel mask bool, fov mask bool) at the photo's size; a size mismatch names the file."""
        rgb = load_image(self.photo).rgb
        vessels = _read_mask(self.vessels)
        if vessels.shape != rgb.shape[:2]:
            raise DataError(
                f"{self.vessels}: mask is {vessels.shape[1]} x {vessels.shape[0]}, "
                f"its photo {self.photo.name} is {rgb.shape[1]} x {rgb.shape[0]}"
            )
        if self.fov is not None:
            fov = _read_mask(self.fov)
            if fov.shape != rgb.shape[:2]:
                raise DataError(f"{self.fov}: FOV mask size differs from its photo {self.photo.name}")
        else:
            fov = field_of_view_mask(rgb)
        return rgb, vessels, fov


def _read_mask(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L")) > 127
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable mask ({exc})") from None


def subject_group(stem: str) -> str:
    """Both eyes of one subject stay together: a trailing L/R (CHASE_DB1's Image_05L/R) is dropped."""
    return re.sub(r"[_-]?[LR]$", "", stem)


def read_vessel_pairs(source: str | Path) -> list[VesselPair]:
    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: no such manifest or folder")
    pairs = _from_folder(source) if source.is_dir() else _from_manifest(source)
    if not pairs:
        raise DataError(f"{source}: no photo with a vessel mask found")
    for pair in pairs:
        for path in (pair.photo, pair.vessels, pair.fov):
            if path is not None and not path.is_file():
                raise DataError(f"{path}: no such file")
    return pairs


def _from_manifest(path: Path) -> list[VesselPair]:
    from trainer.sources import read_manifest

    rows = read_manifest(path, ("path", "role", "pair_id"))
    by_pair: dict[str, dict] = defaultdict(dict)
    for row in rows:
        if row["pair_id"]:  # a row without one links to nothing
            by_pair[row["pair_id"]][row.role] = row
    pairs = []
    for _pair_id, roles in sorted(by_pair.items()):  # in pair-id order
        if "photo" in roles and "vessel_mask" in roles:
            photo = path.parent / roles["photo"]["path"]
            fov = path.parent / roles["fov_mask"]["path"] if "fov_mask" in roles else None
            pairs.append(
                VesselPair(
                    photo,
                    path.parent / roles["vessel_mask"]["path"],
                    fov,
                    roles["photo"].get("dataset", "data"),
                    f"{roles['photo'].get('dataset', '')}:{subject_group(photo.stem)}",
                )
            )
    return pairs


def _from_folder(folder: Path) -> list[VesselPair]:
    def index(sub: str) -> dict[str, Path]:
        return (
            {p.stem: p for p in (folder / sub).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES}
            if (folder / sub).is_dir()
            else {}
        )

    photos, vessels, fovs = index("images"), index("vessels"), index("fov")
    if not photos:
        raise DataError(f"{folder}: expected images/ and vessels/ sub-folders with matching file names")
    return [
        VesselPair(photos[s], vessels[s], fovs.get(s), folder.name, subject_group(s))
        for s in sorted(photos)
        if s in vessels
    ]


def split_pairs(
    pairs: list[VesselPair], seed: int = 0, val: float = 0.1, test: float = 0.2
) -> dict[str, list[VesselPair]]:
    """By subject group, per data set, fixed seed."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[VesselPair]] = {"train": [], "val": [], "test": []}
    for dataset in sorted({p.dataset for p in pairs}):
        groups = sorted({p.group for p in pairs if p.dataset == dataset})
        order = [groups[i] for i in rng.permutation(len(groups))]
        n_test, n_val = max(1, round(test * len(order))), max(1, round(val * len(order)))
        side = {g: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, g in enumerate(order)}
        for pair in pairs:
            if pair.dataset == dataset:
                out[side[pair.group]].append(pair)
    return out


def vessel_weight_map(vessels: np.ndarray) -> np.ndarray:
    """Where patches are drawn from: half near vessels, half anywhere (a dilated vessel map)."""
    return cv2.dilate(vessels.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)


class PatchSampler(EpochDataset):
    """Random patches of the training photos; the draw depends only on (seed, epoch, index)."""

    def __init__(
        self,
        images: list[np.ndarray],
        vessels: list[np.ndarray],
        fovs: list[np.ndarray],
        near: list[np.ndarray],
        patch: int,
        length: int,
        seed: int,
    ) -> None:
        self.images, self.vessels, self.fovs, self.near = images, vessels, fovs, near
        self.patch, self.length, self.seed = patch, length, seed
        self.near_points = [np.argwhere(n) for n in near]
        self.fov_points = [np.argwhere(f) for f in fovs]
        # padded once here rather than per patch: a patch centred on the edge still has its full size
        half = patch // 2

        def pad(a: np.ndarray) -> np.ndarray:
            return np.pad(a, ((half, half), (half, half)) + ((0, 0),) * (a.ndim - 2), mode="reflect")

        self.padded = [(pad(i), pad(v), pad(f)) for i, v, f in zip(images, vessels, fovs, strict=True)]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        which = int(rng.integers(len(self.images)))
        points = self.near_points[which] if rng.random() < 0.5 else self.fov_points[which]
        row, col = points[int(rng.integers(len(points)))]
        image, vessels, fov = self.padded[which]
        window = (slice(row, row + self.patch), slice(col, col + self.patch))
        x, y, m = (
            image[window].astype(np.float32) / 255.0,
            vessels[window].astype(np.float32),
            fov[window].astype(np.float32),
        )
        turns, flip = int(rng.integers(4)), rng.random() < 0.5
        x, y, m = (np.rot90(a, turns) for a in (x, y, m))
        if flip:
            x, y, m = x[:, ::-1], y[:, ::-1], m[:, ::-1]
        x = np.clip(x * rng.uniform(0.8, 1.2) * rng.uniform(0.92, 1.08, size=3), 0, 1) ** rng.uniform(0.8, 1.25)
        return _as_tensor(x.transpose(2, 0, 1)), _as_tensor(y[None]), _as_tensor(m[None])


def _as_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
