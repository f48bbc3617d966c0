"""One photo, prepared once for everything that looks at it.

Decoding (with EXIF orientation), the field of view, the optic disc and the input of each model are
computed on first use and kept on the ``PreparedPhoto``: the classifier, the cup/disc measurement, every
baseline, ``evaluate``, ``heatmap`` and the window share one object per photo, so the disc is located
once and a value computed twice can never disagree with itself.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from fundus_viewer.core.disc import OpticDisc, locate_optic_disc
from fundus_viewer.core.fov import FieldOfView, analyse_field_of_view
from fundus_viewer.core.images import FundusImage, as_fundus_image
from fundus_viewer.core.pyramid import ImagePyramid
from fundus_viewer.core.transform import InputTransform


class PreparedPhoto:
    """A decoded photo and what has been worked out about it. Reads like a ``FundusImage``."""

    def __init__(self, image: FundusImage):
        self.image = image
        self._transforms: dict[tuple, InputTransform] = {}
        self._inputs: dict[tuple, np.ndarray] = {}

    rgb = property(lambda self: self.image.rgb)
    path = property(lambda self: self.image.path)
    name = property(lambda self: self.image.name)
    height = property(lambda self: self.image.height)
    width = property(lambda self: self.image.width)

    @cached_property
    def fov(self) -> FieldOfView:
        return analyse_field_of_view(self.rgb)

    @cached_property
    def disc(self) -> OpticDisc:
        return locate_optic_disc(self.rgb, self.fov)

    @cached_property
    def display(self) -> ImagePyramid:
        """The photo at halving resolutions for drawing (built where it is first asked for: the worker)."""
        return ImagePyramid(self.rgb)

    def transform(
        self, input_size: int, resize: int | None = None, crop: str = "fov", disc_diameters: float = 2.5
    ) -> InputTransform:
        """The photo <-> model input geometry for a model that sees ``crop`` at ``input_size`` px."""
        key = (input_size, resize, crop, float(disc_diameters))
        if key not in self._transforms:
            self._transforms[key] = InputTransform.for_image(
                self.rgb,
                input_size,
                resize,
                crop,
                disc_diameters,
                fov=self.fov,
                disc=self.disc if crop == "disc" else None,
            )
        return self._transforms[key]

    def model_pixels(
        self, input_size: int, resize: int | None = None, crop: str = "fov", disc_diameters: float = 2.5
    ) -> tuple[InputTransform, np.ndarray]:
        """(transform, the crop x crop x 3 uint8 pixels the model sees), each made once per model geometry."""
        transform = self.transform(input_size, resize, crop, disc_diameters)
        key = (input_size, resize, crop, float(disc_diameters))
        if key not in self._inputs:
            self._inputs[key] = transform.to_input(self.rgb)
        return transform, self._inputs[key]

    def for_spec(self, spec) -> tuple[InputTransform, np.ndarray]:
        """``model_pixels`` for a model spec with input_size, resize, crop and disc_diameters."""
        return self.model_pixels(spec.input_size, spec.resize, spec.crop, spec.disc_diameters)


def prepare_photo(source) -> PreparedPhoto:
    """A ``PreparedPhoto`` from one (returned as it is), a ``FundusImage``, a path or an RGB array."""
    if isinstance(source, PreparedPhoto):
        return source
    if isinstance(source, (str, Path)):
        from fundus_viewer.core.images import load_image

        return PreparedPhoto(load_image(source))
    return PreparedPhoto(as_fundus_image(source))
