"""One reference photo through both generators: its vessel map, the synthetic photos, and the RL /
RNFLD maps the classifier draws on each (the Synthesize view and docs/make_gan_figure.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fundus_viewer.core.gan.pairs import GanPair, make_pair
from fundus_viewer.core.gan.pathology_loss import as_batch, classifier_batch, crop_transform
from fundus_viewer.core.gan.synthesis import synthesize
from fundus_viewer.core.visualization.pathology import pathology_maps


@dataclass
class Rendition:
    name: str  # "real", or a generator's name
    image: np.ndarray  # S x S x 3 uint8
    rl: np.ndarray  # the classifier's maps on its disc crop (g x g, >= 0)
    rnfld: np.ndarray
    probability: float


@dataclass
class SynthesisComparison:
    pair: GanPair
    renditions: list[Rendition] = field(default_factory=list)


def render(classifier, pair: GanPair, name: str, image: np.ndarray) -> Rendition:
    device = next(classifier.parameters()).device
    transform = crop_transform(classifier, pair.disc_center, pair.disc_side, image.shape[0])
    x = classifier_batch(as_batch(image[None], device), [transform])
    maps = pathology_maps(classifier, x, create_graph=False)
    with torch.no_grad():
        p = classifier.glaucoma_probability(classifier(x))[0].item()
    heat = {k: maps[k][0].detach().clamp(min=0).cpu().numpy() for k in ("rl", "rnfld")}
    return Rendition(name, image, heat["rl"], heat["rnfld"], p)


def compare(classifier, pair: GanPair, generators: dict, seed: int = 0) -> SynthesisComparison:
    result = SynthesisComparison(pair, [render(classifier, pair, "real", pair.photo)])
    for name, generator in generators.items():
        image = synthesize(
            generator, pair.condition(generator.spec)[None], 1, seed, fov=None if pair.fov is None else pair.fov[None]
        )[0, 0]
        result.renditions.append(render(classifier, pair, name, image))
    return result


def compare_photo(
    classifier, segmenter, rgb: np.ndarray, generators: dict, seed: int = 0, name: str = "photo", cup_disc_model=None
) -> SynthesisComparison:
    """From any photo: segment its vessels (and, for generators that take them, its disc and cup with
    ``cup_disc_model``), cut all to the GAN's square, compare."""
    from fundus_viewer.core.vessels import segment_vessels

    size = next(iter(generators.values())).spec.size
    pair = make_pair(
        name, "", None, rgb, segment_vessels(segmenter, rgb), size, classifier.spec.disc_diameters, cup_disc_model
    )
    return compare(classifier, pair, generators, seed)
