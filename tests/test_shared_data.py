"""End to end on real photos from ../shared/data (skipped where the data pack is absent)."""

import csv

import numpy as np
import pytest
from PIL import Image

from fundus_viewer.cli.main import main
from fundus_viewer.core.boxes import ImageBoxes, mask_bounding_box, save_coco
from fundus_viewer.core.images import load_image

pytestmark = pytest.mark.shared_data

PHOTOS = [
    "hrf/images/01_g.jpg",
    "acrima/images/Im310_g_ACRIMA.jpg",
    "drishti_gs1/images/drishtiGS_002.jpg",
    "chase_db1/images/Image_05L.jpg",
]


def test_every_photo_in_the_manifest_loads(shared_data):
    with (shared_data / "MANIFEST.csv").open() as stream:
        rows = [r for r in csv.DictReader(stream) if r["role"] == "photo"]
    assert len(rows) > 700
    for row in rows[::25]:
        photo = load_image(shared_data / row["path"])
        assert photo.rgb.ndim == 3 and photo.rgb.dtype == np.uint8


def test_heatmap_on_real_photos(shared_data, tiny_checkpoint, tmp_path):
    paths = [str(shared_data / p) for p in PHOTOS]
    code = main(
        ["heatmap", *paths, "--out", str(tmp_path), "--model", str(tiny_checkpoint), "--methods", "pathology,cam"]
    )
    assert code == 0
    for relative in PHOTOS:
        photo = load_image(shared_data / relative)
        stem = relative.rsplit("/", 1)[1].rsplit(".", 1)[0]
        for name in ("pathology-rl", "pathology-rnfld", "cam"):
            heat = np.load(tmp_path / f"{stem}.{name}.npy")
            assert heat.shape == (photo.height, photo.width)
            assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1


def test_evaluate_on_drishti_disc_boxes(shared_data, tiny_checkpoint, tmp_path, capsys):
    boxes = {}
    for number in ("002", "004", "005"):
        name = f"drishtiGS_{number}.jpg"
        disc = np.asarray(Image.open(shared_data / "drishti_gs1" / "disc" / f"drishtiGS_{number}.png").convert("L"))
        entry = ImageBoxes(name, disc.shape[1], disc.shape[0])
        entry.boxes["RL"].append(mask_bounding_box(disc, 191))
        boxes[name] = entry
    save_coco(boxes, tmp_path / "discs.json")
    code = main(
        [
            "evaluate",
            "--images",
            str(shared_data / "drishti_gs1" / "images"),
            "--boxes",
            str(tmp_path / "discs.json"),
            "--model",
            str(tiny_checkpoint),
            "--methods",
            "pathology,cam",
            "--out",
            str(tmp_path / "table.csv"),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    rl = {r["method"]: r for r in rows if r["pathology"] == "RL"}
    assert rl["pathology"]["n"] == "3" and rl["cam"]["n"] == "3"
    assert 0 < float(rl["chance"]["mean"]) < 10  # the disc box is a few % of the photo (accuracy in %)


def test_the_disc_locator_finds_drishti_discs(shared_data):
    """Centre inside the expert disc (>= 191) on at least 95% of Drishti-GS1 photos."""
    from fundus_viewer.core.disc import locate_optic_disc

    photos = sorted((shared_data / "drishti_gs1" / "images").glob("*.jpg"))[::3]
    hits = 0
    for path in photos:
        disc = np.asarray(Image.open(shared_data / "drishti_gs1" / "disc" / f"{path.stem}.png").convert("L")) >= 191
        found = locate_optic_disc(load_image(path).rgb)
        assert found.located
        hits += bool(disc[int(round(found.y)), int(round(found.x))])
    assert hits >= 0.95 * len(photos)


def test_disc_crops_are_used_whole_and_full_photos_are_not(shared_data):
    from fundus_viewer.core.fov import has_dark_surround

    assert not has_dark_surround(load_image(shared_data / "acrima/images/Im310_g_ACRIMA.jpg").rgb)
    for relative in ("hrf/images/01_g.jpg", "drishti_gs1/images/drishtiGS_002.jpg", "chase_db1/images/Image_05L.jpg"):
        assert has_dark_surround(load_image(shared_data / relative).rgb)
