"""Training data sources: a CSV manifest or a folder with one sub-folder per class, and their splits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.images import IMAGE_SUFFIXES
from fundus_viewer.core.manifest import ManifestError, ManifestRow
from fundus_viewer.core.manifest import read_manifest as core_read_manifest

CLASS_NAMES = ("normal", "glaucoma")


class DataError(FundusViewerError):
    """Bad training data: the message names the file."""


@dataclass
class Sample:
    path: Path
    label: int  # 0 normal, 1 glaucoma
    dataset: str
    split: str | None  # "train", "val", "test" or None (assigned by split_samples)
    disc_mask: Path | None = None  # expert optic-disc and cup masks, where the data set has them
    cup_mask: Path | None = None


def read_labelled_photos(source: str | Path) -> list[Sample]:
    """Photos with a glaucoma/normal label from a manifest (path, label[, split, dataset, role]) or a folder."""
    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: no such manifest or folder")
    samples = _from_folder(source) if source.is_dir() else _from_manifest(source)
    for label, name in enumerate(CLASS_NAMES):
        if not any(s.label == label for s in samples):
            raise DataError(f"{source}: no '{name}' photos; the classifier needs both classes")
    return samples


# labels a manifest may give a photo that is no training data (as ../shared/data/MANIFEST.csv does)
UNLABELLED = ("", "unknown")


def read_manifest(path: Path, columns: tuple[str, ...] = ("path", "label")) -> list[ManifestRow]:
    """The core's manifest reader (stripped values, BOM, line numbers, known roles), its errors as DataError."""
    try:
        return core_read_manifest(path, columns)
    except ManifestError as exc:
        raise DataError(str(exc)) from None


def _from_manifest(path: Path) -> list[Sample]:
    rows = read_manifest(path)
    masks: dict[tuple[str, str], Path] = {}
    for row in rows:
        if row.role in ("disc_mask", "cup_mask") and row.get("pair_id"):
            masks[(row["pair_id"], row.role)] = (path.parent / row["path"]).resolve()
    samples = []
    for row in rows:
        if row.role != "photo":
            continue
        number = row.line
        label = row["label"].lower()
        if label in UNLABELLED:
            continue  # unlabelled photos are not training data
        if label not in CLASS_NAMES:  # a typo would silently drop the photo from training
            raise DataError(
                f"{path}: line {number}: label {row['label']!r} is not {' or '.join(CLASS_NAMES)} "
                "(or unknown / empty for a photo that is no training data)"
            )
        photo = (path.parent / row["path"]).resolve()
        if not photo.is_file():
            raise DataError(f"{photo}: listed in {path.name} line {number}, but there is no such file")
        split = (row.get("split") or "").lower()
        split = {"training": "train", "validation": "val"}.get(split, split)
        pair = row.get("pair_id", "")
        samples.append(
            Sample(
                photo,
                CLASS_NAMES.index(label),
                row.get("dataset") or "data",
                split if split in ("train", "val", "test") else None,
                masks.get((pair, "disc_mask")),
                masks.get((pair, "cup_mask")),
            )
        )
    return samples


def _from_folder(folder: Path) -> list[Sample]:
    classes = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    unknown = sorted(set(classes) - set(CLASS_NAMES))
    if unknown:
        raise DataError(f"{folder}: sub-folders must be named {' and '.join(CLASS_NAMES)}; found {', '.join(unknown)}")
    samples = []
    for name, sub in classes.items():
        for photo in sorted(sub.rglob("*")):
            if photo.suffix.lower() in IMAGE_SUFFIXES:
                samples.append(Sample(photo, CLASS_NAMES.index(name), folder.name, None))
    return samples


def split_samples(
    samples: list[Sample], seed: int = 0, val: float = 0.15, test: float = 0.15, hold_out: str | None = None
) -> list[Sample]:
    """Fill in missing splits: stratified by data set and label, fixed seed.

    A data set's own split is kept: its "train" photos give up ``val`` of themselves to validation.
    ``hold_out``: leave-one-source-out. Every photo of that data set is the test split (its own split
    ignored), and the others are split into train and validation only, so no choice made on validation
    has seen the held-out source.
    """
    if hold_out is not None:
        if not any(s.dataset == hold_out for s in samples):
            there = ", ".join(sorted({s.dataset for s in samples}))
            raise DataError(f"--hold-out {hold_out}: no photos of that data set (there are {there})")
        rest = [
            Sample(s.path, s.label, s.dataset, None if s.split == "test" else s.split, s.disc_mask, s.cup_mask)
            for s in samples
            if s.dataset != hold_out
        ]
        held = [
            Sample(s.path, s.label, s.dataset, "test", s.disc_mask, s.cup_mask)
            for s in samples
            if s.dataset == hold_out
        ]
        return split_samples(rest, seed, val, 0.0) + held
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, int, str | None], list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[(sample.dataset, sample.label, sample.split)].append(sample)
    out = []
    # the groups in a fixed order (no split sorts as ""): each draws the same permutation from the seed every run
    for (_dataset, _label, split), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
    ):
        members = sorted(members, key=lambda s: str(s.path))
        order = rng.permutation(len(members))
        members = [members[i] for i in order]
        if split in ("val", "test"):
            out += members
            continue
        n = len(members)
        n_test = 0 if split == "train" else int(round(test * n))
        n_val = int(round(val * n))
        for index, sample in enumerate(members):
            assigned = "test" if index < n_test else "val" if index < n_test + n_val else "train"
            out.append(Sample(sample.path, sample.label, sample.dataset, assigned, sample.disc_mask, sample.cup_mask))
    return out
