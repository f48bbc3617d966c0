"""A fundus photo and its vessel map on Patho-GAN's square grid, with the optic disc located.

Both are cut to the square around the photo's field of view and resized to the GAN's size; the
classifier's disc square (used by L_patho and the report) is found on the resized photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fundus_viewer.core.disc import disc_square
from fundus_viewer.core.fov import analyse_field_of_view
from fundus_viewer.core.transform import resize_square


@dataclass
class GanPair:
    name: str
    dataset: str
    label: int | None
    photo: np.ndarray  # S x S x 3 uint8
    vessels: np.ndarray  # S x S float32 in [0, 1]
    disc_center: tuple[float, float]  # in the S x S square
    disc_side: int  # the classifier's disc square, in S pixels


def make_pair(name, dataset, label, rgb, vessels, size: int, disc_diameters: float) -> GanPair:
    square = analyse_field_of_view(rgb).square()
    photo = resize_square(rgb, square, size)
    vessel_map = resize_square(vessels.astype(np.float32), square, size).clip(0, 1)
    left, top, side = disc_square(photo, disc_diameters)
    return GanPair(name, dataset, label, photo, vessel_map, (left + side / 2, top + side / 2), side)
