"""One reference photo through both generators: its vessel map, the synthetic photos, and the RL /
RNFLD maps the classifier draws on each (the Synthesize view and docs/make_gan_figure.py).

Every photo is analysed by ``PathologyVisualizer.analyze``, the main window's one path: the real photo
at its own resolution (so its P(glaucoma) and maps are the main window's; the window passes its own
analysis), each synthetic photo at the generator's S px, cut at the same part of the retina as the real
photo (the classifier's square, carried onto the S x S grid), so the maps compare region for region.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fundus_viewer.core.gan.pairs import GanPair, make_pair
from fundus_viewer.core.gan.pathology_loss import crop_transform
from fundus_viewer.core.gan.synthesis import synthesize
from fundus_viewer.core.transform import InputTransform
from fundus_viewer.core.visualization.pathology import PathologyAnalysis, PathologyVisualizer
from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS, Thresholds


@dataclass
class Rendition:
    name: str  # "real", or a generator's name
    analysis: PathologyAnalysis  # the classifier's analysis of this photo (its maps at any thresholds)
    generator: str | None = None  # the generator's checkpoint (None: the real photo)

    @property
    def image(self) -> np.ndarray:
        """The photo analysed: H x W x 3 uint8 (a synthetic one at the generator's S x S)."""
        return self.analysis.image.rgb

    @property
    def probability(self) -> float:
        return self.analysis.probability

    def maps(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> dict:
        """{"rl", "rnfld"}: ``GridMap``s placed on ``image``, as the main view draws them."""
        t = thresholds
        return self.analysis.heatmaps(t.theta_act, t.cmi_low, t.cmi_high, t.normalization).maps

    @property
    def rl(self) -> np.ndarray:
        """The RL map on the classifier's feature grid (g x g, >= 0), at the paper's thresholds."""
        return np.maximum(self.maps()["rl"].grid, 0)

    @property
    def rnfld(self) -> np.ndarray:
        return np.maximum(self.maps()["rnfld"].grid, 0)


@dataclass
class SynthesisComparison:
    pair: GanPair
    renditions: list[Rendition] = field(default_factory=list)
    seed: int = 0
    classifier: str | None = None  # the classifier's checkpoint

    @property
    def real(self) -> Rendition:
        return self.renditions[0]

    @property
    def synthetic(self) -> list[Rendition]:
        return self.renditions[1:]


def on_square(transform: InputTransform, square: tuple[int, int, int], size: int) -> InputTransform:
    """A photo's classifier transform carried onto the S x S grid cut from ``square`` of that photo."""
    left, top, side = square
    scale = size / side
    return InputTransform(
        size,
        size,
        int(round((transform.left - left) * scale)),
        int(round((transform.top - top) * scale)),
        max(1, int(round(transform.side * scale))),
        transform.resize,
        transform.crop,
    )


def _visualizer(classifier) -> PathologyVisualizer:
    return classifier if isinstance(classifier, PathologyVisualizer) else PathologyVisualizer(classifier)


def compare(
    classifier, pair: GanPair, generators: dict, seed: int = 0, real: PathologyAnalysis | None = None
) -> SynthesisComparison:
    """``classifier``: a model or a ``PathologyVisualizer`` (its layers). ``real``: the analysis of the
    photo ``pair`` was cut from; without it the real photo is analysed on the S x S grid, at the disc
    square located there (a pair made for training keeps no larger photo)."""
    visualizer = _visualizer(classifier)
    size = pair.photo.shape[0]
    if real is None:
        transform = crop_transform(visualizer.model, pair.disc_center, pair.disc_side, size)
        real = visualizer.analyze(pair.photo, transform)
    else:
        assert pair.square is not None, "a pair cut from the analysed photo knows its square"
        transform = on_square(real.transform, pair.square, size)
    result = SynthesisComparison(
        pair, [Rendition("real", real)], seed, getattr(visualizer.model, "checkpoint_path", None)
    )
    for name, generator in generators.items():
        image = synthesize(
            generator, pair.condition(generator.spec)[None], 1, seed, fov=None if pair.fov is None else pair.fov[None]
        )[0, 0]
        rendition = Rendition(name, visualizer.analyze(image, transform), getattr(generator, "checkpoint_path", None))
        result.renditions.append(rendition)
    return result


def compare_photo(
    classifier,
    segmenter,
    photo,
    generators: dict,
    seed: int = 0,
    name: str | None = None,
    cup_disc_model=None,
    real: PathologyAnalysis | None = None,
) -> SynthesisComparison:
    """From any photo (a ``PreparedPhoto``, path or RGB array): segment its vessels (and, for generators
    that take them, its disc and cup with ``cup_disc_model``), cut all to the GAN's square, compare.
    ``real``: the photo's analysis where it is made already (the main window's); else it is made here,
    by the same ``analyze``."""
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.vessels import segment_vessels

    visualizer = _visualizer(classifier)
    photo = prepare_photo(photo)
    real = real if real is not None else visualizer.analyze(photo)
    size = next(iter(generators.values())).spec.size
    pair = make_pair(
        name or photo.name,
        "",
        None,
        photo.rgb,
        segment_vessels(segmenter, photo.rgb),
        size,
        visualizer.model.spec.disc_diameters,
        cup_disc_model,
        photo.fov,
    )
    return compare(visualizer, pair, generators, seed, real)
