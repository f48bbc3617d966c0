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
    model = load_classifier()
    assert model.spec.crop == "disc" and model.spec.metrics["test"]["all"]["auc"] > 0.9


def test_the_default_vessel_segmenter_is_bundled_with_its_card():
    from fundus_viewer.core.vessels import default_vessel_model_path, load_vessel_segmenter

    path = default_vessel_model_path()
    assert path.exists() and path.stat().st_size < 25_000_000
    assert (models_dir() / "vessels.md").exists()
    assert "test" in load_vessel_segmenter().spec.metrics


def test_the_default_cup_disc_segmenter_is_bundled_with_its_card():
    from fundus_viewer.core.cup_disc import default_cup_disc_path, load_cup_disc_segmenter

    path = default_cup_disc_path()
    assert path.exists() and path.stat().st_size < 25_000_000
    assert (models_dir() / "cup-disc.md").exists()
    assert load_cup_disc_segmenter().spec.metrics["test"]["disc_dice"] > 0.85


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


@pytest.mark.shared_data
def test_the_vessel_segmenter_reproduces_its_test_dice(shared_data):
    """Two of its held-out photos (see the model card's split), segmented again here."""
    from fundus_viewer.core.segmentation_metrics import segmentation_report
    from fundus_viewer.core.vessels import load_vessel_segmenter, segment_vessels

    model = load_vessel_segmenter()
    for photo, mask, fov in (("hrf/images/02_g.jpg", "hrf/vessels/02_g.png", "hrf/fov/02_g.png"), ("chase_db1/images/Image_04L.jpg", "chase_db1/vessels/Image_04L.png", None)):
        assert photo.rsplit("/", 1)[1] in model.spec.training["split"]["test"]
        probability = segment_vessels(model, shared_data / photo)
        truth = np.asarray(Image.open(shared_data / mask).convert("L")) > 127
        inside = np.asarray(Image.open(shared_data / fov).convert("L")) > 127 if fov else probability >= 0
        assert segmentation_report(probability, truth, inside, model.spec.threshold)["dice"] > 0.65


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
    assert main(["synthesize", "--vessels", str(tmp_path / "map.png"), "--out", str(tmp_path / "out"), "--baseline"]) == 0
    photo = np.asarray(Image.open(tmp_path / "out" / "map.synthetic-0.png"))
    assert photo.shape == (256, 256, 3)
    assert photo[..., 0].mean() > photo[..., 2].mean()  # a fundus is red, not blue
