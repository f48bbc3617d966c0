"""fundus-train vessels on a tiny synthetic set: loss falls, checkpoint round-trips, the CLI writes maps
on the photo's grid, resume continues, and a mask of the wrong size is named."""

import csv

import numpy as np
import pytest
from PIL import Image

from fundus_viewer.cli.main import main as viewer_main
from trainer.sources import DataError
from trainer.vessel_sources import read_vessel_pairs, subject_group
from trainer.vessels import main as train_main


def make_pairs(folder, count=6, size=128, seed=0):
    """Dark lines ("vessels") on a reddish disc; the mask marks the lines."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    (folder / "vessels").mkdir()
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(count):
        rgb = np.zeros((size, size, 3), np.float32)
        inside = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (0.47 * size) ** 2
        rgb[inside] = [180, 80, 40]
        mask = np.zeros((size, size), bool)
        for _ in range(4):
            angle, offset = rng.uniform(0, np.pi), rng.uniform(-30, 30)
            distance = np.abs((xx - size / 2) * np.sin(angle) - (yy - size / 2) * np.cos(angle) - offset)
            mask |= (distance < 2) & inside
        rgb[mask] = [90, 25, 15]
        rgb += rng.normal(0, 4, rgb.shape) * inside[..., None]
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / "images" / f"s{i}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(folder / "vessels" / f"s{i}.png")
    return folder


def args(data, out, epochs):
    return [
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--base",
        "8",
        "--depth",
        "2",
        "--patch",
        "48",
        "--batch-size",
        "8",
        "--patches-per-epoch",
        "48",
        "--lr",
        "3e-3",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--patience",
        "0",
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = make_pairs(tmp_path_factory.mktemp("vessels"))
    out = tmp_path_factory.mktemp("vrun")
    assert train_main(args(data, out, 4)) == 0
    return data, out


def test_loss_falls_and_files_are_written(trained):
    _, out = trained
    rows = list(csv.DictReader((out / "log.csv").open()))
    losses = [float(r["train_loss"]) for r in rows]
    assert len(rows) == 4 and losses[-1] < losses[0]
    for name in ("vessels.safetensors", "last.pt", "curves.png", "metrics.json"):
        assert (out / name).exists()


def test_checkpoint_round_trip_and_cli(trained, tmp_path):
    import torch

    from fundus_viewer.core.vessels import load_vessel_segmenter

    data, out = trained
    model = load_vessel_segmenter(out / "vessels.safetensors")
    assert model.spec.base == 8 and 0.3 <= model.spec.threshold <= 0.7 and "test" in model.spec.metrics
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(model(x), load_vessel_segmenter(out / "vessels.safetensors")(x))
    code = viewer_main(
        [
            "segment-vessels",
            str(data / "images" / "s0.png"),
            "--out",
            str(tmp_path),
            "--model",
            str(out / "vessels.safetensors"),
        ]
    )
    assert code == 0
    prob = np.asarray(Image.open(tmp_path / "s0.vessels-prob.png"))
    mask = np.asarray(Image.open(tmp_path / "s0.vessels-mask.png"))
    assert prob.shape == (128, 128) and mask.shape == (128, 128) and set(np.unique(mask)) <= {0, 255}


def test_resume_continues(trained):
    data, out = trained
    assert train_main(args(data, out, 5) + ["--resume"]) == 0
    assert [int(r["epoch"]) for r in csv.DictReader((out / "log.csv").open())] == [1, 2, 3, 4, 5]


def test_a_mask_of_the_wrong_size_is_named(tmp_path, capsys):
    data = make_pairs(tmp_path / "bad", count=4)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(data / "vessels" / "s1.png")
    assert train_main(args(data, tmp_path / "out", 1)) == 2
    assert "s1.png" in capsys.readouterr().err


def test_sources_and_groups(tmp_path):
    assert subject_group("Image_05L") == "Image_05" == subject_group("Image_05R")
    with pytest.raises(DataError, match="images/ and vessels/"):
        read_vessel_pairs(tmp_path)


def test_missing_default_model_message(tmp_path, capsys, monkeypatch):
    from fundus_viewer.core import vessels

    monkeypatch.setattr(vessels, "default_vessel_model_path", lambda: tmp_path / "none.safetensors")
    code = viewer_main(["segment-vessels", str(tmp_path / "x.png"), "--out", str(tmp_path)])
    assert code == 2 and "no default vessel segmenter" in capsys.readouterr().err
