"""Classifier training data: photos prepared once (disc or FOV crop), augmented on the fly."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from fundus_viewer.core.images import load_image
from fundus_viewer.core.transform import CropRecipe, InputTransform, crop_square
from trainer.epoch_data import EpochDataset
from trainer.sources import DataError, Sample

# Cache this much context around the model's square, so a rotated crop never reaches past it
# (at the smallest scale 1 / 1.1; a smaller one needs ``zoom_out``).
CONTEXT = math.sqrt(2) * 1.1


def context_for(scale_range: tuple[float, float]) -> float:
    """The ``zoom_out`` that ``load_context`` needs for crops drawn at scales in ``scale_range``."""
    return max(1.0, 1 / (1.1 * min(scale_range)))


def load_context(
    sample: Sample, spec: CropRecipe, mirror: bool = False, zoom_out: float = 1.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """The photo's square (as the app would crop it) with context, at the model's resize scale, and
    its disc and cup masks (2 x C x C float in [0, 1]) cut the same way where the sample has them.
    ``zoom_out`` (``context_for``): more context, for crops drawn at scales below 1 / 1.1."""
    photo = load_image(sample.path)  # ImageLoadError names the file
    t = InputTransform.for_recipe(photo.rgb, spec)
    factor = CONTEXT * max(1.0, zoom_out)
    side = int(round(t.side * factor))
    left = int(round(t.left + t.side / 2 - side / 2))
    top = int(round(t.top + t.side / 2 - side / 2))
    pixels = int(round(t.resize * factor))

    def cut(image: np.ndarray) -> np.ndarray:
        # ``mirror``: mirrored, not black, beyond the photo, so a rotated crop of a disc crop (ACRIMA)
        # brings no black corners that only one data set has.
        square = crop_square(image, left, top, side, border=cv2.BORDER_REFLECT_101 if mirror else cv2.BORDER_CONSTANT)
        return cv2.resize(square, (pixels, pixels), interpolation=cv2.INTER_AREA)

    masks = None
    if sample.disc_mask is not None and sample.cup_mask is not None:
        layers = []
        for mask_path in (sample.disc_mask, sample.cup_mask):
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
            if mask is None or mask.shape != photo.rgb.shape[:2]:
                raise DataError(f"{mask_path}: unreadable, or not the size of its photo {sample.path.name}")
            layers.append(cut(mask).astype(np.float32) / 255.0)
        masks = np.stack(layers)
    return cut(photo.rgb), masks


def load_eval_input(sample: Sample, spec: CropRecipe) -> np.ndarray:
    """Exactly what the app feeds the model for this photo."""
    photo = load_image(sample.path)
    t = InputTransform.for_recipe(photo.rgb, spec)
    return t.to_input(photo.rgb)


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float().div_(255.0)


class AugmentedCrops(EpochDataset):
    """Random rotation in [0, 2 pi), scale and shift jitter, mirror, colour jitter; centre crop of input_size."""

    def __init__(
        self,
        contexts: list[np.ndarray],
        labels: list[int],
        input_size: int,
        resize: int,
        seed: int,
        rotate: bool = True,
        masks: list[np.ndarray | None] | None = None,
        mask_size: int = 13,
        camera: bool = False,
        scale_range: tuple[float, float] = (0.9, 1.1),
    ) -> None:
        self.contexts, self.labels = contexts, labels
        self.camera, self.scale_range = camera, scale_range  # trainer.camera_augment; the disc's size in pixels
        self.masks: list[np.ndarray | None] = masks if masks is not None else [None] * len(contexts)
        self.mask_size = mask_size
        self.input_size, self.resize, self.seed, self.rotate = input_size, resize, seed, rotate

    def __len__(self) -> int:
        return len(self.contexts)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index))  # reproducible, worker-independent
        context = self.contexts[index]
        centre = context.shape[0] / 2
        angle = rng.uniform(0, 360) if self.rotate else 0.0
        scale = rng.uniform(*self.scale_range)
        shift = rng.uniform(-1, 1, size=2) * (self.resize - self.input_size) / 2
        matrix = cv2.getRotationMatrix2D((centre, centre), angle, scale)
        matrix[:, 2] += self.input_size / 2 - centre + shift
        crop = cv2.warpAffine(
            context, matrix, (self.input_size, self.input_size), flags=cv2.INTER_LINEAR, borderValue=0
        )
        mirror = rng.random() < 0.5
        if mirror:
            crop = crop[:, ::-1]  # left and right eyes are mirror images
        target = np.zeros((2, self.mask_size, self.mask_size), np.float32)
        weight = 0.0
        masks = self.masks[index]
        if masks is not None:
            for layer in range(2):  # the masks follow the photo: same warp, same mirror
                warped = cv2.warpAffine(
                    masks[layer],
                    matrix,
                    (self.input_size, self.input_size),
                    flags=cv2.INTER_LINEAR,
                    borderValue=0,
                )
                warped = warped[:, ::-1] if mirror else warped
                target[layer] = cv2.resize(
                    np.ascontiguousarray(warped), (self.mask_size, self.mask_size), interpolation=cv2.INTER_AREA
                )
            weight = 1.0
        crop = crop.astype(np.float32)
        gain = rng.uniform(0.85, 1.15) * rng.uniform(0.93, 1.07, size=3)
        crop = crop * gain + rng.uniform(-12, 12)
        gamma = rng.uniform(0.8, 1.25)
        crop = 255.0 * (np.clip(crop, 0, 255) / 255.0) ** gamma
        if self.camera:
            from trainer.camera_augment import camera_augment

            crop = camera_augment(crop, rng)
        tensor = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32)).div_(255.0)
        return tensor, self.labels[index], torch.from_numpy(target), torch.tensor(weight)


def worker_init(_worker_id: int) -> None:
    cv2.setNumThreads(0)  # one thread per loader worker; the training process owns the cores
