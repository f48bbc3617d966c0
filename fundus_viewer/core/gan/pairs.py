"""A fundus photo and its vessel map on Patho-GAN's square grid, with the optic disc located.

Both are cut to the square around the photo's field of view and resized to the GAN's size; the
classifier's disc square (used by L_patho and the report) is found on the resized photo. The photo's
field of view, and where a cup/disc segmenter is given its disc and cup, come along on the same grid:
the conditions a generator may take (``conditions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fundus_viewer.core.disc import disc_square
from fundus_viewer.core.fov import analyse_field_of_view
from fundus_viewer.core.gan.conditions import segmented_disc_cup, stack_condition
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
    fov: np.ndarray | None = None  # S x S float32 0/1: the photo's field of view
    disc: np.ndarray | None = None  # S x S float32 0/1 masks from the cup/disc segmenter; None: not
    cup: np.ndarray | None = None  # segmented (no model given, or no disc found)
    square: tuple[int, int, int] | None = None  # (left, top, side) of the photo the S x S grid was cut from

    def condition(self, spec) -> np.ndarray:
        """The C x S x S condition a generator of ``spec`` takes for this pair (zero masks where the
        segmenter found no disc: the generator is then told nothing of one)."""
        empty = np.zeros_like(self.vessels)
        return stack_condition(
            spec,
            self.vessels,
            self.fov,
            empty if self.disc is None else self.disc,
            empty if self.cup is None else self.cup,
        )


def make_pair(
    name, dataset, label, rgb, vessels, size: int, disc_diameters: float, cup_disc_model=None, fov=None
) -> GanPair:
    """``fov``: the photo's ``FieldOfView`` where it is known already (a ``PreparedPhoto``'s)."""
    fov = fov if fov is not None else analyse_field_of_view(rgb)
    square = fov.square()
    photo = resize_square(rgb, square, size)
    vessel_map = resize_square(vessels.astype(np.float32), square, size).clip(0, 1)
    fov_mask = (resize_square(fov.mask().astype(np.float32), square, size) > 0.5).astype(np.float32)
    left, top, side = disc_square(photo, disc_diameters)
    masks = segmented_disc_cup(cup_disc_model, photo) if cup_disc_model is not None else None
    disc, cup = masks if masks is not None else (None, None)
    return GanPair(
        name, dataset, label, photo, vessel_map, (left + side / 2, top + side / 2), side, fov_mask, disc, cup, square
    )
