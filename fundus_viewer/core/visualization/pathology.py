"""The pathology-aware visualiser (paper section 4.1): analyse once, re-threshold for free.

``PathologyVisualizer.analyze(photo)`` runs one forward and one backward pass and caches, per chosen
layer, every feature map, its weight w (Eq. 3), its L1 norm and its CMI (Eq. 2).
``PathologyAnalysis.heatmaps(theta_act, cmi_low, cmi_high)`` then selects maps (Eq. 1 and the CMI
split) and recombines the cached tensors (Eq. 4) without touching the network: a slider drag costs
two small matrix products on the feature grid. The maps stay on that grid (``GridMap``): the photo's
full-resolution map is made only when export or a metric asks for it, a view resamples what it shows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from fundus_viewer.core.models.classifier import GlaucomaClassifier
from fundus_viewer.core.ood import pooled_features
from fundus_viewer.core.photo import PreparedPhoto, prepare_photo
from fundus_viewer.core.transform import InputTransform
from fundus_viewer.core.visualization.capture import capture, resolve_layers
from fundus_viewer.core.visualization.combine import combine_maps, common_grid, map_weights
from fundus_viewer.core.visualization.heat import GridMap
from fundus_viewer.core.visualization.selection import (
    DEFAULT_THRESHOLDS,
    MapSelection,
    Thresholds,
    centroid_moment_of_inertia,
    l1_norms,
    select_maps,
)


@dataclass
class LayerCounts:
    maps: int
    active: int
    rl: int
    rnfld: int


@dataclass
class PathologyHeatmaps:
    """Both maps (``maps["rl"]``, ``maps["rnfld"]``: signed V on the common feature grid, placed on the
    photo) and what produced them. ``rl`` / ``rnfld``: on the photo's own grid (H x W, float32, [0, 1]),
    made on first access."""

    maps: dict[str, GridMap]
    counts: dict[str, LayerCounts]
    thresholds: Thresholds

    @cached_property
    def rl(self) -> np.ndarray:
        return self.maps["rl"].full()

    @cached_property
    def rnfld(self) -> np.ndarray:
        return self.maps["rnfld"].full()

    def __getitem__(self, pathology: str) -> np.ndarray:
        return {"rl": self.rl, "rnfld": self.rnfld}[pathology]

    def counts_text(self) -> str:
        return counts_text(self.counts)


@dataclass
class PathologyAnalysis:
    """The cache of one photo's analysis. Detached CPU tensors: cheap to keep, cheap to recombine."""

    image: PreparedPhoto
    transform: InputTransform
    logits: np.ndarray  # pre-softmax, one per class
    probability: float  # calibrated P(glaucoma) (model.glaucoma_probability)
    layer_names: tuple[str, ...]
    activations: list[torch.Tensor]  # per layer: 1 x K x h x w
    weights: list[torch.Tensor]  # per layer: 1 x K
    l1: list[torch.Tensor]  # per layer: 1 x K
    cmi: list[torch.Tensor]  # per layer: 1 x K
    seconds: float = 0.0
    ood: object = None  # core.ood.OodScore, where the model carries a feature bank
    _grid: tuple[int, int] = field(default=(0, 0), repr=False)

    def masks(self, thresholds: Thresholds) -> list[MapSelection]:
        """Per layer (active, high, low) boolean masks, 1 x K each."""
        return [select_maps(l1, cmi, thresholds) for l1, cmi in zip(self.l1, self.cmi, strict=True)]

    def heatmaps(
        self,
        theta_act: float = 0.1,
        cmi_low: float = 0.1,
        cmi_high: float = 0.9,
        normalization: str = "rank",
    ) -> PathologyHeatmaps:
        thresholds = Thresholds(theta_act, cmi_low, cmi_high, normalization)
        masks = self.masks(thresholds)
        signed = _signed_maps(self.activations, self.weights, masks, self._grid)
        return PathologyHeatmaps(
            maps={name: GridMap(grid[0], self.transform) for name, grid in signed.items()},
            counts=_layer_counts(self.layer_names, masks, 0),
            thresholds=thresholds,
        )


@dataclass
class BatchAnalysis:
    """A batch's maps (``signed[name]``: B x h x w on the common feature grid, not yet placed on any
    photo) and per photo the calibrated P(glaucoma), maps kept per layer and OOD score."""

    probabilities: list[float]
    signed: dict[str, np.ndarray]
    counts: list[dict[str, LayerCounts]]
    ood: list | None


def _kept_per_map(masks: Sequence[MapSelection]) -> dict[str, list[torch.Tensor]]:
    """Per pathology map ("rl", "rnfld"), each layer's mask of the feature maps it sums."""
    return {"rl": [m.high for m in masks], "rnfld": [m.low for m in masks]}


def _signed_maps(
    activations: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    masks: Sequence[MapSelection],
    grid: tuple[int, int],
) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {
            name: combine_maps(activations, weights, kept, grid).numpy() for name, kept in _kept_per_map(masks).items()
        }


def _layer_counts(layer_names: Sequence[str], masks: Sequence[MapSelection], sample: int) -> dict[str, LayerCounts]:
    return {
        layer: LayerCounts(
            maps=int(m.active.shape[-1]),
            active=int(m.active[sample].sum()),
            rl=int(m.high[sample].sum()),
            rnfld=int(m.low[sample].sum()),
        )
        for layer, m in zip(layer_names, masks, strict=True)
    }


def counts_text(counts: dict[str, LayerCounts]) -> str:
    return "; ".join(f"{name}: {c.active}/{c.maps} active, RL {c.rl}, RNFLD {c.rnfld}" for name, c in counts.items())


class PathologyVisualizer:
    """Pathology-aware heat maps for one classifier.

    ``layers``: module names (see ``model.conv_layer_names()``); default: the last conv layers.
    """

    def __init__(self, model: GlaucomaClassifier, layers=None, device: str | torch.device | None = None):
        self.model = model.eval()
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model.to(self.device)
        self.layers = tuple(layers) if layers else model.default_layers
        resolve_layers(self.model, self.layers)  # fail now, with the list of valid names

    def prepare(
        self, image, transform: InputTransform | None = None
    ) -> tuple[PreparedPhoto, InputTransform, torch.Tensor]:
        """Photo (a ``PreparedPhoto``, path, ``FundusImage`` or array) -> (the prepared photo, transform to
        the model input, 1 x 3 x S x S tensor in [0, 1]). A prepared photo keeps its input: asked again
        (a baseline after the maps), nothing is located, cropped or resized twice. ``transform``: cut the
        input there instead of where the photo's own disc or field of view says (a synthetic photo is
        cut where its real photo was)."""
        photo = prepare_photo(image)
        if transform is None:
            transform, pixels = photo.for_spec(self.model.spec)
        else:
            pixels = transform.to_input(photo.rgb)
        tensor = torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)[None]
        return photo, transform, tensor.to(self.device)

    def analyze(self, image, transform: InputTransform | None = None) -> PathologyAnalysis:
        started = time.perf_counter()
        photo, transform, x = self.prepare(image, transform)
        with pooled_features(self.model) as pooled:  # the same pass gives the OOD score's features
            result = capture(self.model, x, self.layers, self.model.glaucoma_index)
        ood = self.model.ood_scores(pooled.get("features"))
        activations = [a.detach().float().cpu() for a in result.activations]
        weights = [map_weights(g.detach().float()).cpu() for g in result.gradients]
        logits = result.logits.detach().float().cpu()[0]
        return PathologyAnalysis(
            image=photo,
            transform=transform,
            logits=logits.numpy(),
            probability=float(self.model.glaucoma_probability(logits)),
            ood=ood[0] if ood else None,
            layer_names=self.layers,
            activations=activations,
            weights=weights,
            l1=[l1_norms(a) for a in activations],
            cmi=[centroid_moment_of_inertia(a) for a in activations],
            seconds=time.perf_counter() - started,
            _grid=common_grid(activations),
        )

    def analyze_batch(
        self, x: torch.Tensor, thresholds: Thresholds = DEFAULT_THRESHOLDS, amp: bool = False
    ) -> BatchAnalysis:
        """The maps of a batch of prepared inputs (B x 3 x S x S in [0, 1]) in one forward and one
        backward pass; photo i's maps equal ``analyze`` of that photo. Samples are independent in eval
        mode, so one backward of the summed glaucoma logits gives each its own gradients.

        ``amp``: the layers below the first analysed one in float16 on CUDA (bfloat16 on a CPU), the
        analysed layers, their gradients and every statistic in float32 (``capture``)."""
        x = x.to(self.device)
        dtype = (torch.float16 if self.device.type == "cuda" else torch.bfloat16) if amp else None
        with pooled_features(self.model) as pooled:
            result = capture(self.model, x, self.layers, self.model.glaucoma_index, autocast_dtype=dtype)
        ood = self.model.ood_scores(pooled.get("features"))
        activations = [a.detach().float().cpu() for a in result.activations]
        weights = [map_weights(g.detach().float()).cpu() for g in result.gradients]
        masks = [select_maps(l1_norms(a), centroid_moment_of_inertia(a), thresholds) for a in activations]
        logits = result.logits.detach().float().cpu()
        return BatchAnalysis(
            probabilities=[float(p) for p in self.model.glaucoma_probability(logits)],
            signed=_signed_maps(activations, weights, masks, common_grid(activations)),
            counts=[_layer_counts(self.layers, masks, b) for b in range(len(x))],
            ood=ood,
        )


def pathology_maps(
    model: GlaucomaClassifier,
    x: torch.Tensor,
    layers=None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    create_graph: bool = True,
    size: tuple[int, int] | None = None,
) -> dict[str, torch.Tensor]:
    """Signed V_RL and V_RNFLD (B x H x W) of a batch in [0, 1], differentiable w.r.t. ``x``.

    Patho-GAN's L_patho = |V(real) - V(syn)|_1 calls this on both images. Map selection is made on
    detached statistics (it is a discrete choice); the weights and maps keep their graph.
    """
    layers = tuple(layers) if layers else model.default_layers
    result = capture(model, x, layers, model.glaucoma_index, create_graph=create_graph)
    weights = [map_weights(g) for g in result.gradients]
    with torch.no_grad():
        masks = [select_maps(l1_norms(a), centroid_moment_of_inertia(a), thresholds) for a in result.activations]
    grid = size or common_grid(result.activations)
    return {name: combine_maps(result.activations, weights, kept, grid) for name, kept in _kept_per_map(masks).items()}
