"""The model-parameter randomisation test (Adebayo et al. 2018) with answers known in advance."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from fundus_viewer.core.sanity import cascade, layers_to_the_logit, randomisation_test, similarity, weighted_layers


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)
        self.unused = nn.Linear(4, 2)  # a head the logit never reaches

    def forward(self, x):
        features = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        self.unused(features.mean(dim=(2, 3)))
        return self.fc(features.mean(dim=(2, 3)))


def photo(seed=0):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random((32, 32)).astype(np.float32), (0, 0), 2)


def edge_map(_model, image):
    """An explanation that never looks at the weights: the photo's edges (a fixed Sobel filter)."""
    edges = np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))
    return {"edges": edges / edges.max()}


def gradient_map(model, image):
    x = torch.from_numpy(image)[None, None].requires_grad_(True)
    model(x)[0, 1].backward()
    grad = x.grad[0, 0].abs().numpy()
    return {"gradient": grad / grad.max()}


def test_a_map_that_ignores_the_weights_stays_the_same_at_every_step():
    result = randomisation_test(Toy(), [photo(0), photo(1)], edge_map, max_steps=3)
    assert result.steps[0] == "trained" and len(result.steps) == 4
    assert result.mean("spearman", "edges") == pytest.approx([1.0] * 4) and result.mean(
        "ssim", "edges"
    ) == pytest.approx([1.0] * 4)


def test_a_map_made_by_the_weights_moves_away_and_the_model_is_left_alone():
    model = Toy()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = randomisation_test(model, [photo(0)], gradient_map, max_steps=3, seed=1)
    spearman = result.mean("spearman", "gradient")
    assert spearman[0] == 1.0 and spearman[-1] < 0.8  # everything re-initialised: another map
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_cascade_runs_top_down_in_blocks_and_skips_what_the_logit_does_not_use():
    model = Toy()
    x = torch.from_numpy(photo())[None, None]
    for p in model.parameters():
        p.requires_grad_(False)
    assert layers_to_the_logit(model, x, 1) == ["conv1", "conv2", "fc"]
    assert not any(p.requires_grad for p in model.parameters())  # frozen again
    assert weighted_layers(model) == ["conv1", "conv2", "fc", "unused"]
    holder = nn.Module()
    holder.scale = nn.Parameter(
        torch.tensor(4.0)
    )  # a bare learned scale (the cup/disc term of the logit) is a layer too
    model.holder = holder
    assert weighted_layers(model)[-1] == "holder"
    from fundus_viewer.core.sanity import reinitialise

    torch.manual_seed(0)
    reinitialise(holder)
    assert float(holder.scale.detach()) != 4.0
    layers = [f"l{i}" for i in range(20)]
    blocks = cascade(layers, 8)
    assert len(blocks) == 8 and blocks[0][0] == "l19" and [name for b in blocks for name in b] == layers[::-1]
    assert cascade(["a", "b"], 8) == [["b"], ["a"]]


def test_similarity_is_measured_inside_the_field_of_view_and_not_without_heat():
    a = np.zeros((20, 20), np.float32)
    a[5:15, 5:15] = np.linspace(0, 1, 100).reshape(10, 10)
    inside = np.zeros((20, 20), bool)
    inside[5:15, 5:15] = True
    b = np.zeros_like(a)
    b[5:15, 5:15] = np.linspace(1, 0, 100).reshape(10, 10)  # the ramp reversed: rank correlation -1 inside
    assert similarity(a, b, inside)[0] == pytest.approx(-1.0)
    assert similarity(a, b)[0] > -0.5  # over the whole frame the shared zeros pull it up
    assert all(math.isnan(v) for v in similarity(a, np.zeros_like(a)))


def test_the_bundled_models_pathology_maps_report_the_measured_figures(tmp_path, capsys):
    """The figures of the README's sanity-check table for this sample (seed 0, four steps), measured
    once and checked here: the RNFLD map loses its rank order with the head, the RL map empties once the
    convolutions go."""
    import json
    from pathlib import Path

    from fundus_viewer.cli.main import main

    sample = Path(__file__).resolve().parents[1] / "resources" / "samples" / "HRF_01_g.jpg"
    assert (
        main(
            [
                "sanity-check",
                str(sample),
                "--out",
                str(tmp_path),
                "--methods",
                "pathology",
                "--max-steps",
                "4",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    figures = json.loads((tmp_path / "sanity.json").read_text())["methods"]
    assert figures["pathology-rnfld"]["spearman_mean"] == pytest.approx([1.0, 0.133, 0.162, -0.092, -0.206], abs=0.05)
    assert (
        figures["pathology-rl"]["spearman_mean"][1] == pytest.approx(0.404, abs=0.05)
        and figures["pathology-rl"]["spearman_mean"][3] is None
    )
    assert (tmp_path / "sanity-pathology-rl.png").stat().st_size > 10_000 and "spearman" in capsys.readouterr().out


def test_maps_are_compared_where_the_model_sees_inside_the_field_of_view():
    from fundus_viewer.core.sanity import compared_region

    fov = np.zeros((10, 12), bool)
    fov[2:9, 1:11] = True
    region = compared_region(fov, (4, 0, 8, 6))  # x0, y0, x1, y1
    assert region.sum() == 4 * 4 and region[2:6, 4:8].all()
