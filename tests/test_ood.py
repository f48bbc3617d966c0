"""The out-of-distribution score: nearest-neighbour distances by hand, its threshold, the bank in the
checkpoint, and the flag beside the probability in the analysis and in classify."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from fundus_viewer.core.ood import OodRule, OodScore, features_of, fit_rule, knn_distance


def test_nearest_neighbour_distances_by_hand():
    bank = torch.eye(3)  # three training photos with orthogonal features
    diagonal = torch.tensor([[1.0, 1.0, 0.0]]) / math.sqrt(2)
    assert knn_distance(bank, bank[:1], k=1) == pytest.approx([0.0])
    assert knn_distance(bank, bank[:1], k=2) == pytest.approx([1.0])  # the second nearest is orthogonal
    assert knn_distance(bank, diagonal, k=1) == pytest.approx([1 - 1 / math.sqrt(2)])
    assert knn_distance(bank, -bank[:1], k=1) == pytest.approx([1.0])  # cos(-e1, e2) = 0 beats cos(-e1, e1) = -1


def test_the_threshold_is_the_validation_percentile():
    bank = torch.eye(4)
    angles = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4])  # validation rows at growing angles from e1
    validation = torch.stack([torch.cos(angles), torch.sin(angles), torch.zeros(5), torch.zeros(5)], 1)
    rule = fit_rule(bank, validation, k=1, percentile=50)
    assert rule.threshold == pytest.approx(1 - math.cos(0.2))
    assert OodScore(0.5, rule.threshold).flagged and not OodScore(0.0, rule.threshold).flagged
    assert OodRule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule and OodRule.from_dict({}) is None
    with pytest.raises(ValueError, match="at least 10 training photos"):
        fit_rule(bank, validation)


def test_the_bank_travels_in_the_checkpoint_and_flags_a_photo_unlike_the_training_ones(
    tmp_path, tiny_alexnet, make_fundus, capsys
):
    from PIL import Image
    from safetensors import safe_open

    from fundus_viewer.cli.main import main
    from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier, stored_half
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    fundus = [make_fundus(seed=k) for k in range(3)]
    grey = np.random.default_rng(0).integers(
        0, 256, (420, 600, 3), dtype=np.uint8
    )  # noise: nothing like a fundus photo
    inputs = torch.stack(
        [
            torch.from_numpy(prepare_photo(p).for_spec(tiny_alexnet.spec)[1]).permute(2, 0, 1).float() / 255
            for p in fundus
        ]
    )
    bank = features_of(tiny_alexnet, inputs[:2], "cpu")  # fundus[2] stays out: a new photo of the same kind
    model = load_classifier(save_classifier(tiny_alexnet, tmp_path / "plain.safetensors"))
    assert model.ood_bank is None and PathologyVisualizer(model).analyze(fundus[0]).ood is None  # no bank, no flag
    model.ood_bank = bank
    grey_score = knn_distance(
        bank,
        features_of(
            model,
            torch.from_numpy(prepare_photo(grey).for_spec(model.spec)[1]).permute(2, 0, 1)[None].float() / 255,
            "cpu",
        ),
        1,
    )[0]
    model.spec.ood = OodRule(k=1, threshold=grey_score / 2, percentile=95, fitted_on="a test").to_dict()
    path = save_classifier(model, tmp_path / "with-bank.safetensors", half=True)
    loaded = load_classifier(path)
    assert torch.allclose(loaded.ood_bank, bank, atol=1e-3)  # stored as float16
    assert stored_half(path) and not stored_half(save_classifier(model, tmp_path / "full.safetensors"))
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["format_version"] == "2"  # a format-1 app would drop the rule: it must refuse
    visualizer = PathologyVisualizer(loaded)
    same = visualizer.analyze(fundus[1]).ood
    assert same.score == pytest.approx(0.0, abs=1e-3) and not same.flagged  # a training photo itself
    assert visualizer.analyze(grey).ood.flagged
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(fundus[2]).save(tmp_path / "eye.png")
    assert (
        main(
            [
                "classify",
                str(tmp_path / "eye.png"),
                str(tmp_path / "grey.png"),
                "--model",
                str(path),
                "--no-cup-disc",
                "--json",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["ood_flag"] for r in rows] == [False, True] and all(
        {"probability_glaucoma", "prediction", "ood_score"} <= set(r) for r in rows
    )
