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


@pytest.mark.parametrize(
    "options, true_cam",
    [
        ({"head": "gap"}, True),
        ({"head": "gap", "cdr_head": True, "cdr_in_logit": False}, True),  # the disc/cup head trains conv5 only
        ({"head": "gap", "cdr_head": True}, False),  # its ratio in the logit routes the decision around the weights
        ({}, False),  # the paper's pool5 -> fc6 -> fc7
    ],
)
def test_alexnet_heads_for_which_grad_cam_is_the_true_cam(options, true_cam):
    torch.manual_seed(0)
    spec = ClassifierSpec(arch="alexnet", input_size=99, arch_options={"width": 0.1, **options})
    model = GlaucomaClassifier(spec).eval()
    assert model.cam_is_true_cam is true_cam


def test_an_auxiliary_cdr_head_leaves_the_logit_to_conv5():
    torch.manual_seed(0)
    spec = ClassifierSpec(
        arch="alexnet",
        input_size=99,
        arch_options={"width": 0.1, "head": "gap", "cdr_head": True, "cdr_in_logit": False},
    )
    model = GlaucomaClassifier(spec).eval()
    x = torch.rand(2, 3, 99, 99)
    seen = []
    handle = model.network.features.relu5.register_forward_hook(lambda m, i, o: seen.append(o))
    segmentation = []
    model.network.segmentation.register_forward_hook(lambda m, i, o: segmentation.append(o))
    logits = model(x)
    handle.remove()
    fc = model.network.classifier.fc
    assert torch.allclose(logits, seen[0].mean(dim=(-2, -1)) @ fc.weight.T + fc.bias, atol=1e-5)
    assert segmentation == []  # not computed for use ...
    model.train()(x)
    assert segmentation[0].shape[1] == 2  # ... but for the training loss (read by a hook)
    assert not any(isinstance(v, torch.Tensor) for v in vars(model.network).values())  # no graph kept on it


def test_occlusion_finds_the_spot(spot_model, make_fundus):
    rgb = make_fundus(spot=(300, 180), spot_radius=14)
    visualizer = PathologyVisualizer(spot_model, layers=["network.features.relu"])
    heat = compute_baselines(visualizer, rgb, methods=("occlusion",))["occlusion"].heat
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    assert abs(x - 300) <= 30 and abs(y - 180) <= 30
