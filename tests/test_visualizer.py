"""Eqs. 3-4: weights equal autograd's gradient mean, V equals a brute-force sum, and the combination
stays differentiable for Patho-GAN."""

import numpy as np
import torch
import torch.nn.functional as F

from fundus_viewer.core.visualization.capture import capture
from fundus_viewer.core.visualization.combine import combine_maps, map_weights
from fundus_viewer.core.visualization.pathology import PathologyVisualizer, pathology_maps
from fundus_viewer.core.visualization.selection import (
    Thresholds,
    centroid_moment_of_inertia,
    l1_norms,
    select_maps,
)


def test_weights_equal_the_mean_of_autograds_gradient(tiny_alexnet):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 227, 227)
    layer = "network.features.relu5"
    result = capture(tiny_alexnet, x, [layer], target=1)
    # independent route: retain_grad on the hooked activation and call backward on the logit
    module = dict(tiny_alexnet.named_modules())[layer]
    seen = []

    def keep(_module, _inputs, output):
        output.retain_grad()
        seen.append(output)

    handle = module.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            x2 = x.clone().requires_grad_(True)
            tiny_alexnet(x2)[:, 1].sum().backward()
    finally:
        handle.remove()
    expected = seen[0].grad.mean(dim=(-2, -1))
    assert torch.allclose(map_weights(result.gradients[0]), expected, atol=1e-6)
    assert torch.allclose(result.activations[0], seen[0].detach())


def brute_force_v(activations, weights, masks, size):
    """Upsample every selected map on its own, weight it and add: Eq. 4 read literally."""
    total = torch.zeros(size)
    for maps, w, keep in zip(activations, weights, masks, strict=True):
        for k in range(maps.shape[1]):
            if keep[0, k]:
                up = F.interpolate(maps[:, k : k + 1], size=size, mode="bilinear", align_corners=False)[0, 0]
                total += w[0, k] * up
    return total


def test_v_equals_the_brute_force_sum(tiny_alexnet):
    torch.manual_seed(3)
    x = torch.rand(1, 3, 227, 227)
    layers = ["network.features.relu3", "network.features.relu4", "network.features.relu5"]
    result = capture(tiny_alexnet, x, layers, target=1)
    acts = [a.detach() for a in result.activations]
    weights = [map_weights(g) for g in result.gradients]
    thresholds = Thresholds(0.1, 0.3, 0.7)
    for index in (1, 2):  # high and low CMI sets
        masks = [select_maps(l1_norms(a), centroid_moment_of_inertia(a), thresholds)[index] for a in acts]
        assert sum(int(m.sum()) for m in masks) > 0
        for size in ((13, 13), (227, 227)):
            fast = combine_maps(acts, weights, masks, size)[0]
            slow = brute_force_v(acts, weights, masks, size)
            assert torch.allclose(fast, slow, atol=1e-5), size


def test_rethresholding_does_not_run_the_network(tiny_alexnet, make_fundus):
    visualizer = PathologyVisualizer(tiny_alexnet)
    analysis = visualizer.analyze(make_fundus())
    calls = []
    handle = tiny_alexnet.register_forward_hook(lambda *a: calls.append(1))
    try:
        first = analysis.heatmaps(0.1, 0.1, 0.9)
        second = analysis.heatmaps(0.5, 0.3, 0.6)
    finally:
        handle.remove()
    assert calls == []
    assert first.rl.shape == (420, 600) and first.rnfld.shape == (420, 600)
    assert not np.array_equal(first.rl, second.rl) or not np.array_equal(first.rnfld, second.rnfld)
    for heat in (first.rl, first.rnfld):
        assert heat.dtype == np.float32 and heat.min() >= 0 and heat.max() <= 1
    counts = first.counts["network.features.relu5"]
    assert counts.maps == 32 and 0 < counts.active <= 32
    assert counts.rl + counts.rnfld <= counts.active


def test_analysis_matches_the_differentiable_path(tiny_alexnet, make_fundus):
    visualizer = PathologyVisualizer(tiny_alexnet)
    analysis = visualizer.analyze(make_fundus())
    _, _, x = visualizer.prepare(make_fundus())
    live = pathology_maps(tiny_alexnet, x, create_graph=False)
    cached = analysis.heatmaps()
    assert torch.allclose(live["rl"][0].detach(), torch.from_numpy(cached.maps["rl"].grid), atol=1e-5)
    assert torch.allclose(live["rnfld"][0].detach(), torch.from_numpy(cached.maps["rnfld"].grid), atol=1e-5)


def test_create_graph_lets_a_heat_map_loss_reach_the_input(tiny_alexnet):
    torch.manual_seed(5)
    real = torch.rand(1, 3, 227, 227)
    source = torch.rand(1, 3, 227, 227, requires_grad=True)  # stands in for a generator's output
    synthetic = torch.sigmoid(source)
    target = pathology_maps(tiny_alexnet, real, thresholds=Thresholds(0.1, 0.3, 0.7))["rl"].detach()
    produced = pathology_maps(tiny_alexnet, synthetic, thresholds=Thresholds(0.1, 0.3, 0.7))["rl"]
    loss = (produced - target).abs().mean()
    loss.backward()
    assert source.grad is not None and source.grad.abs().sum() > 0


def test_unknown_layer_names_list_the_valid_ones(tiny_alexnet):
    import pytest

    with pytest.raises(ValueError, match="network.features.relu5"):
        PathologyVisualizer(tiny_alexnet, layers=["network.features.nope"])
