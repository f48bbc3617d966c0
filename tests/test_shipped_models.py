"""The bundled models load by default and behave as their model cards say."""

import json

import numpy as np
import pytest
from PIL import Image

from fundus_viewer.cli.main import main
from fundus_viewer.core.resources import default_classifier_path, models_dir


def test_the_default_classifier_is_bundled_with_its_card():
    from fundus_viewer.core.models.checkpoint import load_classifier

    path = default_classifier_path()
    assert path.exists() and path.stat().st_size < 25_000_000
    assert (models_dir() / "classifier.md").exists()
    assert load_classifier().spec.crop == "disc"


def test_the_default_vessel_segmenter_is_bundled_with_its_card():
    from fundus_viewer.core.vessels import default_vessel_model_path, load_vessel_segmenter

    path = default_vessel_model_path()
    assert path.exists() and path.stat().st_size < 25_000_000
    assert (models_dir() / "vessels.md").exists()
    load_vessel_segmenter()


def test_the_default_cup_disc_segmenter_is_bundled_with_its_card():
    from fundus_viewer.core.cup_disc import default_cup_disc_path, load_cup_disc_segmenter

    path = default_cup_disc_path()
    assert path.exists() and path.stat().st_size < 25_000_000
    assert (models_dir() / "cup-disc.md").exists()
    load_cup_disc_segmenter()  # its figures: test_the_cup_disc_segmenter_reproduces_its_test_figures


@pytest.mark.shared_data
def test_the_cup_disc_segmenter_reproduces_its_test_figures(shared_data):
    """Its held-out Drishti-GS1 photos, measured again here: the card's Dice and vCDR error."""
    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter
    from trainer.cup_disc_report import EXPERT_LEVEL, evaluate, masked_samples, prepare

    model = load_cup_disc_segmenter()
    test_files = set(model.spec.training["split"]["test"])
    samples = [s for s in masked_samples(shared_data / "MANIFEST.csv") if s.path.name in test_files]
    assert len(samples) == model.spec.metrics["test"]["photos"]
    figures = evaluate(model, prepare(samples, model.spec, EXPERT_LEVEL))
    for key in ("disc_dice", "cup_dice", "vcdr_mae", "auc_vcdr"):
        assert figures[key] == pytest.approx(model.spec.metrics["test"][key], abs=0.01)


# The cards' test figures, measured again here through the app's own path (not read back from the
# checkpoint). Deterministic on a CPU; the tolerance allows for another BLAS or a GPU's convolutions.
TOLERANCE = 0.005


@pytest.mark.shared_data
def test_the_classifier_reproduces_its_test_auc_and_accuracy(shared_data):
    """Its 138 held-out photos (the split stored in the checkpoint), classified again as the window does."""
    import csv
    from pathlib import Path

    import torch
    from sklearn.metrics import roc_auc_score

    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    model = load_classifier()
    card = model.spec.metrics["test"]["all"]
    test_files = set(model.spec.training["split_files"]["test"])
    with (shared_data / "MANIFEST.csv").open(newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if Path(r["path"]).name in test_files and r["role"] == "photo"]
    assert len(rows) == card["n"]
    visualizer = PathologyVisualizer(model)
    probabilities = []
    for row in rows:
        _, _, x = visualizer.prepare(shared_data / row["path"])
        with torch.no_grad():
            probabilities.append(float(model.glaucoma_probability(model(x))[0]))
    labels = np.array([r["label"] == "glaucoma" for r in rows])
    called = np.array(probabilities) >= model.calibration.threshold
    assert labels.sum() == card["n_glaucoma"]
    assert roc_auc_score(labels, probabilities) == pytest.approx(card["auc"], abs=TOLERANCE)
    assert (called == labels).mean() == pytest.approx(card["accuracy"], abs=TOLERANCE)
    assert called[labels].mean() == pytest.approx(card["sensitivity"], abs=TOLERANCE)


@pytest.mark.shared_data
def test_the_vessel_segmenter_reproduces_its_test_dice(shared_data):
    """Its 14 held-out photos, segmented again here: the card's pooled Dice, sensitivity and AUC."""
    from fundus_viewer.core.segmentation_metrics import segmentation_report
    from fundus_viewer.core.vessels import load_vessel_segmenter, segment_vessels
    from trainer.vessel_sources import read_vessel_pairs

    model = load_vessel_segmenter()
    card = model.spec.metrics["test"]["all"]
    test_files = set(model.spec.training["split"]["test"])
    pairs = [p for p in read_vessel_pairs(shared_data / "MANIFEST.csv") if p.photo.name in test_files]
    assert len(pairs) == card["images"]
    probabilities, truths = [], []
    for pair in pairs:
        rgb, vessels, fov = pair.load()
        probabilities.append(segment_vessels(model, rgb)[fov])
        truths.append(vessels[fov])
    truth = np.concatenate(truths)
    report = segmentation_report(np.concatenate(probabilities), truth, np.ones_like(truth), model.spec.threshold)
    for key in ("dice", "sensitivity", "auc"):
        assert report[key] == pytest.approx(card[key], abs=TOLERANCE), key


@pytest.mark.shared_data
def test_classify_and_segment_without_model_use_the_defaults(shared_data, tmp_path, capsys):
    photos = [str(shared_data / "acrima/images/Im310_g_ACRIMA.jpg"), str(shared_data / "hrf/images/02_h.jpg")]
    assert main(["classify", *photos, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(0 <= r["probability_glaucoma"] <= 1 for r in rows)
    assert main(["segment-vessels", photos[1], "--out", str(tmp_path)]) == 0
    mask = np.asarray(Image.open(tmp_path / "02_h.vessels-mask.png"))
    assert mask.shape == (512, 768) and 0.03 < (mask > 0).mean() < 0.25  # a plausible vessel fraction


@pytest.mark.shared_data
def test_heat_on_a_glaucoma_photo_sits_around_the_disc(shared_data, tmp_path):
    from fundus_viewer.core.boxes import mask_bounding_box
    from fundus_viewer.core.metrics import localization_accuracy, uniform_accuracy

    name = "drishtiGS_002"
    assert main(["heatmap", str(shared_data / f"drishti_gs1/images/{name}.jpg"), "--out", str(tmp_path)]) == 0
    disc = np.asarray(Image.open(shared_data / f"drishti_gs1/disc/{name}.png").convert("L"))
    box = mask_bounding_box(disc, 191)
    heat = np.load(tmp_path / f"{name}.pathology-rl.npy")
    assert localization_accuracy(heat, [box]) > 3 * uniform_accuracy(heat.shape, [box])


def test_the_bundled_generators_differ_only_in_lambda_and_synthesize(tmp_path):
    from fundus_viewer.core.gan.checkpoint import default_generator_path, load_generator

    specs = {}
    for which in ("patho-gan", "baseline"):
        path = default_generator_path(which)
        assert path.exists() and path.stat().st_size < 25_000_000 and path.with_suffix(".md").exists()
        specs[which] = load_generator(which=which).spec
    assert specs["patho-gan"].lam == 1000 and specs["baseline"].lam == 0
    assert specs["patho-gan"].training["split"] == specs["baseline"].training["split"]  # the same held-out maps
    assert "gan-report" in (models_dir() / "patho-gan.md").read_text()
    vessel_map = np.zeros((300, 300), np.uint8)
    for angle in np.linspace(0, np.pi, 6):
        x = (150 + 140 * np.cos(angle) * np.linspace(-1, 1, 200)).astype(int)
        y = (150 + 140 * np.sin(angle) * np.linspace(-1, 1, 200)).astype(int)
        vessel_map[y.clip(0, 299), x.clip(0, 299)] = 255
    Image.fromarray(vessel_map).save(tmp_path / "map.png")
    assert (
        main(["synthesize", "--vessels", str(tmp_path / "map.png"), "--out", str(tmp_path / "out"), "--baseline"]) == 0
    )
    photo = np.asarray(Image.open(tmp_path / "out" / "map.synthetic-0.png"))
    assert photo.shape == (256, 256, 3)
    assert photo[..., 0].mean() > photo[..., 2].mean()  # a fundus is red, not blue
