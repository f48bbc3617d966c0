"""The four comparison methods return maps on the original grid; CAM is the true CAM for ResNet-18."""

import numpy as np
import pytest
import torch

from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier
from fundus_viewer.core.visualization.baselines import BASELINES, cam_grid, compute_baselines
from fundus_viewer.core.visualization.pathology import PathologyVisualizer


def test_every_baseline_on_the_original_grid(tiny_alexnet, make_fundus):
    rgb = make_fundus(height=300, width=420, centre=(200, 150), radius=140)
    maps = compute_baselines(PathologyVisualizer(tiny_alexnet), rgb)
    assert set(maps) == set(BASELINES)
    for result in maps.values():
        assert result.heat.shape == (300, 420) and result.heat.dtype == np.float32
        assert result.heat.min() >= 0 and result.heat.max() == pytest.approx(1.0)
    assert "Grad-CAM" in maps["cam"].note


def test_grad_cam_equals_true_cam_for_a_gap_linear_head():
    torch.manual_seed(0)
    model = GlaucomaClassifier(ClassifierSpec(arch="resnet18", input_size=96)).eval().requires_grad_(False)
    x = torch.rand(1, 3, 96, 96)
    grid, note = cam_grid(model, x)
    assert "true CAM" in note
    seen = []
    handle = model.network.net.layer4.register_forward_hook(lambda m, i, o: seen.append(o))
    model(x)
    handle.remove()
    weights = model.network.net.fc.weight[1]
    cam = torch.relu(torch.einsum("k,khw->hw", weights, seen[0][0]))
    up = torch.nn.functional.interpolate(cam[None, None], size=(96, 96), mode="bilinear", align_corners=False)[0, 0]
    expected = up.numpy()
    if expected.max() > 0:
        expected = (expected - expected.min()) / (expected.max() - expected.min())
    # pytorch-grad-cam resizes with OpenCV; compare shapes of the maps, not interpolation details
    assert np.corrcoef(grid.ravel(), expected.ravel())[0, 1] > 0.99


def test_occlusion_finds_the_spot(spot_model, make_fundus):
    rgb = make_fundus(spot=(300, 180), spot_radius=14)
    visualizer = PathologyVisualizer(spot_model, layers=["network.features.relu"])
    heat = compute_baselines(visualizer, rgb, methods=("occlusion",))["occlusion"].heat
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    assert abs(x - 300) <= 30 and abs(y - 180) <= 30
