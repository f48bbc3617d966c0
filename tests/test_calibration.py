"""The calibrated call: temperature scaling, the threshold at a stated specificity, ECE, and the call that
classify and the trainer make with them, on cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fundus_viewer.core.calibration import (
    Calibration,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    reliability,
    softmax,
    threshold_for_specificity,
)


def test_the_fitted_temperature_is_the_one_that_made_the_labels():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, 40000)  # logits 3x too confident: the labels follow sigmoid(z / 3)
    labels = (rng.random(z.size) < 1 / (1 + np.exp(-z / 3))).astype(int)
    logits = np.stack([np.zeros_like(z), z], axis=1)
    assert fit_temperature(logits, labels) == pytest.approx(3.0, rel=0.05)
    # the class order is the checkpoint's: glaucoma first gives the same temperature
    assert fit_temperature(logits[:, ::-1], labels, glaucoma_index=0) == pytest.approx(3.0, rel=0.05)


def test_the_threshold_is_the_lowest_that_keeps_the_specificity():
    normal, glaucoma = [0.1, 0.2, 0.3, 0.4], [0.35, 0.5, 0.6]
    probs, labels = np.array(normal + glaucoma), np.array([0] * 4 + [1] * 3)
    # at most one normal photo of four may be called glaucoma: P >= 0.35 does that, P >= 0.3 calls two;
    # any t in (0.3, 0.35] calls the same, and the threshold sits halfway
    assert threshold_for_specificity(probs, labels, 0.75) == pytest.approx(0.325)
    assert threshold_for_specificity(probs, labels, 1.0) == pytest.approx(0.45)  # between 0.4 (normal) and 0.5
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\]"):
        threshold_for_specificity(probs, labels, 85)
    with pytest.raises(ValueError, match="glaucoma and normal"):
        threshold_for_specificity(probs[:4], labels[:4], 0.85)


def test_ece_and_reliability_by_hand():
    probs, labels = np.array([0.95, 0.85, 0.35, 0.25]), np.array([1, 0, 0, 1])
    # one photo per bin: |0.95 - 1|, |0.85 - 0|, |0.35 - 0|, |0.25 - 1|, each weighted 1/4
    assert expected_calibration_error(probs, labels) == pytest.approx((0.05 + 0.85 + 0.35 + 0.75) / 4, abs=1e-6)
    assert reliability(np.array([0.05, 0.06, 0.92]), np.array([0, 1, 1])) == [
        (pytest.approx(0.055), 0.5, 2),
        (pytest.approx(0.92), 1.0, 1),
    ]
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0


def test_calibrate_keeps_what_it_did_on_validation():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 5, 4000)
    labels = (rng.random(z.size) < 1 / (1 + np.exp(-z / 2.5))).astype(int)
    result = calibrate(np.stack([np.zeros_like(z), z], 1), labels, 1, 0.85, "the validation split, 4000 photos")
    assert result.temperature == pytest.approx(2.5, rel=0.08)
    assert result.validation["specificity"] >= 0.85 and result.validation["ece_after"] < result.validation["ece_before"]
    assert result.threshold == pytest.approx(
        threshold_for_specificity(softmax(np.stack([np.zeros_like(z), z], 1), result.temperature)[:, 1], labels, 0.85)
    )
    again = Calibration.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result and "specificity 0.85" in again.says() and not Calibration().calibrated


def test_classify_makes_the_models_own_call(tmp_path, tiny_alexnet, make_fundus, capsys):
    from PIL import Image

    from fundus_viewer.cli.main import main
    from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier

    Image.fromarray(make_fundus()).save(tmp_path / "eye.png")
    common = ["classify", str(tmp_path / "eye.png"), "--no-cup-disc", "--device", "cpu", "--json"]
    plain = save_classifier(tiny_alexnet, tmp_path / "plain.safetensors")
    assert main([*common, "--model", str(plain)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    p = row["probability_glaucoma"]
    assert row["threshold"] == 0.5 and row["prediction"] == ("glaucoma" if p >= 0.5 else "normal")
    model = load_classifier(plain)
    # a temperature of 4 pulls P towards 0.5; a threshold just above (or below) it flips the call
    z = np.log(p / (1 - p))
    calibrated_p = 1 / (1 + np.exp(-z / 4))
    for threshold, expected in ((calibrated_p + 1e-3, "normal"), (calibrated_p - 1e-3, "glaucoma")):
        model.spec.calibration = Calibration(4.0, float(threshold), "specificity 0.85", "a test").to_dict()
        path = save_classifier(model, tmp_path / "calibrated.safetensors")
        assert main([*common, "--model", str(path)]) == 0
        [row] = json.loads(capsys.readouterr().out)
        assert row["probability_glaucoma"] == pytest.approx(calibrated_p, abs=1e-4) and row["prediction"] == expected


def test_each_data_set_counts_equally_in_the_specificity():
    # a big source whose normals sit low, a second one whose five normals sit high, two with one normal each
    big, second, tiny = [0.05] * 18 + [0.2, 0.3], [0.5, 0.55, 0.6, 0.65, 0.7], [0.62, 0.64]
    probs = np.array(big + second + tiny + [0.8, 0.9])
    labels = np.array([0] * 27 + [1, 1])
    groups = np.array(["big"] * 20 + ["second"] * 5 + ["a", "b"] + ["big", "second"])
    # pooled, 23 of 27 normals below 0.62 make 0.85: the four highest (0.62 .. 0.7) are called
    assert threshold_for_specificity(probs, labels, 0.85) == pytest.approx((0.6 + 0.62) / 2)
    # averaged over big, second, and a + b pooled (one normal each is too few to stand alone): at
    # t in (0.65, 0.7] big 1.0, second 0.8, a + b 1.0 make 0.93; at (0.64, 0.65] second 0.6 makes 0.87;
    # at (0.62, 0.64] a + b 0.5 makes 0.7
    assert threshold_for_specificity(probs, labels, 0.85, groups) == pytest.approx((0.64 + 0.65) / 2)
    result = calibrate(np.stack([np.zeros(29), np.log(probs / (1 - probs))], 1), labels, 1, 0.85, "a test", groups)
    assert result.validation["specificity_by_source"] == {"a": 1.0, "b": 1.0, "big": 1.0, "second": 0.6}
    assert "each weighted equally" in result.operating_point


def test_a_calibrated_checkpoint_is_format_2_so_an_older_app_refuses_it(tmp_path, tiny_alexnet):
    from safetensors import safe_open

    from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier

    plain = save_classifier(tiny_alexnet, tmp_path / "plain.safetensors")
    model = load_classifier(plain)
    model.spec.calibration = Calibration(2.0, 0.7, "specificity 0.85", "a test").to_dict()
    calibrated = save_classifier(model, tmp_path / "calibrated.safetensors")
    versions = []
    for path in (plain, calibrated):
        with safe_open(str(path), framework="pt") as handle:
            versions.append(handle.metadata()["format_version"])
    assert versions == ["1", "2"] and load_classifier(calibrated).calibration.threshold == 0.7
