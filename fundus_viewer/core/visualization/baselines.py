"""The paper's comparison methods (section 5.2), from captum and pytorch-grad-cam, on the original grid.

- ``cam``: Grad-CAM (pytorch-grad-cam) on the last conv layer. For a GAP + linear head (ResNet-18)
  Grad-CAM *is* the true CAM of Zhou et al. up to a positive factor 1/(h*w): d(logit)/dA^k_ij = W_k/(h*w),
  so the Grad-CAM weights are the linear layer's weights. For the AlexNet-style net (fc 256, fc 2)
  there is no CAM, and Grad-CAM stands in for it, as ``BaselineMap.note`` says.
- ``gbp``: Guided Backprop (captum), |gradient| summed over colour channels.
- ``smoothgrad``: SmoothGrad / "SmoothBP" (captum NoiseTunnel over Saliency), sigma 0.15 of the [0, 1]
  range, |gradient| summed over channels.
- ``occlusion``: Occlusion (captum), a black square of 1/7 of the input slid at half its size; the
  positive part of the drop in the glaucoma logit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from captum.attr import GuidedBackprop, NoiseTunnel, Occlusion, Saliency
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from fundus_viewer.core.methods import BASELINES
from fundus_viewer.core.transform import InputTransform
from fundus_viewer.core.visualization.capture import resolve_layers
from fundus_viewer.core.visualization.heat import GridMap

# captum warns on every Guided Backprop call that it hooks the ReLU modules (and removes the hooks
# after): one line per photo in the CLI and the app's log, saying nothing new. Set once here rather
# than around each call: catch_warnings swaps the process-wide filters, unsafe with the app's worker
# thread. Its hooks attach at each call of a ReLU module, so ResNet-18's ReLU reused within a block is
# rewritten at every use; a functional ReLU (F.relu, some torchvision and timm networks) is not hooked
# at all and passes its plain gradient, and core.models.architectures does nothing about that (it
# only turns in-place activations out-of-place), so Guided Backprop there is partly plain gradient.
warnings.filterwarnings(
    "ignore",
    message="Setting backward hooks on ReLU activations",
    category=UserWarning,
    module="captum.attr._core.guided_backprop_deconvnet",
)


@dataclass
class BaselineMap:
    method: str
    map: GridMap  # the method's grid over the model input, placed on the photo
    note: str = ""

    @cached_property
    def heat(self) -> np.ndarray:
        """On the photo's own grid, float32, [0, 1] (made on first access)."""
        return self.map.full()


def cam_grid(model, x: torch.Tensor) -> tuple[np.ndarray, str]:
    [layer] = resolve_layers(model, [model.cam_layer])
    with torch.enable_grad(), GradCAM(model=model, target_layers=[layer]) as explainer:
        grid = explainer(
            input_tensor=x.clone().requires_grad_(True), targets=[ClassifierOutputTarget(model.glaucoma_index)]
        )[0]
    note = "true CAM (GAP + linear head)" if model.cam_is_true_cam else "Grad-CAM (head is not GAP + linear)"
    return grid, note


def gbp_grid(model, x: torch.Tensor) -> np.ndarray:
    with torch.enable_grad():
        attribution = GuidedBackprop(model).attribute(x.clone().requires_grad_(True), target=model.glaucoma_index)
    return attribution.abs().sum(dim=1)[0].detach().cpu().numpy()


def smoothgrad_grid(model, x: torch.Tensor, samples: int = 16, sigma: float = 0.15, seed: int = 0) -> np.ndarray:
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):  # reproducible noise, caller's RNG untouched
        torch.manual_seed(seed)
        tunnel = NoiseTunnel(Saliency(model))
        attribution = tunnel.attribute(
            x.clone().requires_grad_(True),
            nt_type="smoothgrad",
            nt_samples=samples,
            nt_samples_batch_size=8,
            stdevs=sigma,
            target=model.glaucoma_index,
        )
    return attribution.abs().sum(dim=1)[0].detach().cpu().numpy()


def occlusion_grid(model, x: torch.Tensor, window_fraction: float = 1 / 7) -> np.ndarray:
    size = x.shape[-1]
    window = max(2, int(round(size * window_fraction)))
    stride = max(1, window // 2)
    with torch.no_grad():
        attribution = Occlusion(model).attribute(
            x,
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=0.0,
            target=model.glaucoma_index,
            perturbations_per_eval=16,
        )
    return attribution.mean(dim=1)[0].cpu().numpy()


_GRIDS = {
    "gbp": gbp_grid,
    "smoothgrad": smoothgrad_grid,
    "occlusion": occlusion_grid,
}


def baseline_map(method: str, model, x: torch.Tensor, transform: InputTransform) -> BaselineMap:
    """One baseline for a prepared input ``x`` (1 x 3 x S x S), back on the original grid."""
    if method == "cam":
        grid, note = cam_grid(model, x)
    elif method in _GRIDS:
        grid, note = _GRIDS[method](model, x), ""
    else:
        raise ValueError(f"unknown method {method!r}; choose from pathology, {', '.join(BASELINES)}")
    return BaselineMap(method=method, map=GridMap(np.asarray(grid, dtype=np.float32), transform), note=note)


def compute_baselines(visualizer, image, methods=BASELINES) -> dict[str, BaselineMap]:
    """Several baselines for one photo, sharing its preprocessing."""
    _, transform, x = visualizer.prepare(image)
    return {method: baseline_map(method, visualizer.model, x, transform) for method in methods}
