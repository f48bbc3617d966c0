"""fundus-train classifier on a tiny set made here: the loss falls, checkpoints round-trip, a killed run
resumes, bad data gets a message naming the file."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.classifier import main as train_main
from trainer.sources import DataError, read_labelled_photos, split_samples


def make_set(folder, per_class=16, size=96, seed=0):
    """ACRIMA-like crops (no dark surround): glaucoma photos have a large pale cup, normal a small one."""
    rng = np.random.default_rng(seed)
    rows = []
    yy, xx = np.mgrid[0:size, 0:size]
    for label in ("glaucoma", "normal"):
        for i in range(per_class):
            rgb = np.zeros((size, size, 3), np.float32) + [170, 90, 50]
            rgb += rng.normal(0, 6, rgb.shape)
            cup = (size * (0.3 if label == "glaucoma" else 0.1)) ** 2
            centre = size / 2 + rng.uniform(-4, 4, 2)
            rgb[(xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 < cup] = [250, 235, 200]
            name = f"{label}_{i:02d}.png"
            Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / name)
            rows.append({"path": name, "label": label, "dataset": "toy", "split": "none", "role": "photo"})
    return write_manifest(folder / "manifest.csv", rows)


def write_manifest(path, rows):
    """A CSV manifest with the first row's keys as columns."""
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def common_args(manifest, out, epochs):
    return [
        "--data",
        str(manifest),
        "--out",
        str(out),
        "--width",
        "0.125",
        "--epochs",
        str(epochs),
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--crop",
        "none",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--patience",
        "0",
    ]


def read_log(out):
    with (out / "log.csv").open() as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_set(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert train_main(common_args(toy, out, 6)) == 0
    return out


def test_the_loss_falls_and_the_run_leaves_its_files(trained):
    rows = read_log(trained)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    losses = [float(r["train_loss"]) for r in rows]
    assert np.mean(losses[-2:]) < losses[0]
    for name in ("classifier.safetensors", "last.pt", "curves.png", "metrics.json", "log.csv"):
        assert (trained / name).exists(), name


def test_the_checkpoint_round_trips_with_its_metadata(trained):
    import torch

    from fundus_viewer.core.models.checkpoint import load_classifier

    model = load_classifier(trained / "classifier.safetensors")
    assert model.spec.crop == "none" and model.spec.arch == "alexnet"
    assert "test" in model.spec.metrics and "all" in model.spec.metrics["test"]
    assert model.spec.training["split_counts"]["train"]
    files = model.spec.training["split_files"]
    assert sum(len(v) for v in files.values()) == 32 and not set(files["train"]) & set(files["test"])
    x = torch.rand(2, 3, model.spec.input_size, model.spec.input_size)
    assert torch.allclose(model(x), load_classifier(trained / "classifier.safetensors")(x))


def test_the_run_ends_calibrated_and_calibrate_refits_the_same_call(trained, tmp_path):
    """Temperature and threshold from the validation split, the test split measured at that call; the
    calibrate command rebuilds the same split from the checkpoint and gets the same; the card says it."""
    from fundus_viewer.core.models.checkpoint import load_classifier
    from trainer.calibrate import main as calibrate_main
    from trainer.model_card import main as card_main

    model = load_classifier(trained / "classifier.safetensors")
    calibration = model.calibration
    assert calibration.calibrated and calibration.temperature > 0 and 0 < calibration.threshold <= 1
    assert calibration.validation["n"] == 4 and calibration.validation["specificity"] >= 0.85
    test = model.spec.metrics["test"]["all"]
    assert test["threshold"] == calibration.threshold and "ece_uncalibrated" in test and test["reliability"]
    assert (
        model.ood_bank.shape[0] == len(model.spec.training["split_files"]["train"]) and model.spec.ood["threshold"] >= 0
    )
    others = tmp_path / "others"
    others.mkdir()
    for k in range(3):
        Image.fromarray(np.random.default_rng(k).integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(
            others / f"noise{k}.png"
        )
    out = tmp_path / "again.safetensors"
    assert (
        calibrate_main(
            [
                "--model",
                str(trained / "classifier.safetensors"),
                "--out",
                str(out),
                "--ood-photos",
                str(others),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    ood = load_classifier(out).spec.metrics["ood"]
    assert ood["other_photos"] == 3 and ood["test_photos"] == 4 and 0 <= ood["auc"] <= 1
    again = load_classifier(out).calibration
    assert again.temperature == pytest.approx(calibration.temperature, rel=1e-4) and again.threshold == pytest.approx(
        calibration.threshold, rel=1e-4
    )
    assert card_main(["--model", str(out), "--out", str(tmp_path / "card.md")]) == 0
    card = (tmp_path / "card.md").read_text()
    assert "## Calibration and the call" in card and f"P(glaucoma) >= {calibration.threshold:.3f}" in card
    assert (tmp_path / "again-reliability.png").exists() is False and (tmp_path / "card-reliability.png").exists()


def test_a_killed_run_resumes_from_its_last_checkpoint(toy, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "trainer", "classifier", *common_args(toy, out, 40)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "log.csv").exists() or len(read_log(out)) < 2:
            assert time.time() < deadline, "the run never checkpointed"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = len(read_log(out))
    assert 2 <= done < 40
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "classifier", *common_args(toy, out, done + 2), "--resume"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming after epoch" in result.stderr
    epochs = [int(r["epoch"]) for r in read_log(out)]
    assert epochs == list(range(1, done + 3))  # continued, nothing repeated or lost


def test_bad_data_is_named(tmp_path, capsys):
    manifest = make_set(tmp_path, per_class=4)
    (tmp_path / "glaucoma_00.png").write_bytes(b"not a png")
    assert train_main(common_args(manifest, tmp_path / "out", 1)) == 2
    assert "glaucoma_00.png" in capsys.readouterr().err
    with manifest.open("a") as stream:
        stream.write("missing.png,normal,toy,none,photo\n")
    with pytest.raises(DataError, match="missing.png"):
        read_labelled_photos(manifest)


def test_a_class_without_photos_and_bad_folders(tmp_path):
    (tmp_path / "glaucoma").mkdir()
    Image.fromarray(np.full((20, 20, 3), 99, np.uint8)).save(tmp_path / "glaucoma" / "a.png")
    (tmp_path / "normal").mkdir()
    with pytest.raises(DataError, match="no 'normal' photos"):
        read_labelled_photos(tmp_path)
    (tmp_path / "suspect").mkdir()
    with pytest.raises(DataError, match="suspect"):
        read_labelled_photos(tmp_path)


def test_splits_are_stratified_reproducible_and_keep_official_ones(toy):
    samples = read_labelled_photos(toy)
    first, second = split_samples(samples, seed=3), split_samples(samples, seed=3)
    assert [(s.path, s.split) for s in first] == [(s.path, s.split) for s in second]
    for label in (0, 1):
        counts = {
            name: sum(1 for s in first if s.label == label and s.split == name) for name in ("train", "val", "test")
        }
        assert counts == {"train": 12, "val": 2, "test": 2}
    official = [s for s in samples]
    official[0].split = "test"
    assert [s.split for s in split_samples(official, seed=3) if s.path == official[0].path] == ["test"]


def test_leave_one_source_out_tests_on_the_held_out_source_alone(toy):
    from dataclasses import replace

    samples = read_labelled_photos(toy)
    # a second source, with an official test photo of its own
    samples = [
        replace(s, dataset="other", split="test" if i == 0 else None) if i % 4 == 0 else s
        for i, s in enumerate(samples)
    ]
    held = split_samples(samples, seed=3, hold_out="other")
    assert sorted(s.path for s in held if s.split == "test") == sorted(s.path for s in samples if s.dataset == "other")
    assert {s.dataset for s in held if s.split in ("train", "val")} == {"toy"}
    assert {s.split for s in held if s.dataset == "toy"} == {"train", "val"}  # its test photos train or validate
    assert len(held) == len(samples)
    with pytest.raises(DataError, match="--hold-out nope: no photos of that data set"):
        split_samples(samples, hold_out="nope")


def test_cdr_head_trains_on_linked_masks(tmp_path):
    """--cdr-head: photos with disc/cup masks (linked by pair_id) feed the segmentation loss."""
    manifest = make_set(tmp_path, per_class=6)
    rows = list(csv.DictReader(manifest.open()))
    yy, xx = np.mgrid[0:96, 0:96]
    extra = []
    for row in rows:
        stem = row["path"][:-4]
        cup_radius = 0.3 if row["label"] == "glaucoma" else 0.1
        for role, radius in (("disc_mask", 0.4), ("cup_mask", cup_radius)):
            mask = ((xx - 48) ** 2 + (yy - 48) ** 2 < (radius * 96) ** 2).astype(np.uint8) * 255
            Image.fromarray(mask).save(tmp_path / f"{stem}.{role}.png")
            extra.append({**row, "path": f"{stem}.{role}.png", "role": role})
        row["pair_id"] = stem
    for row in extra:
        row["pair_id"] = row["path"].split(".")[0]
    write_manifest(manifest, rows + extra)
    out = tmp_path / "cdr"
    assert train_main(common_args(manifest, out, 2) + ["--cdr-head"]) == 0
    from fundus_viewer.core.models.checkpoint import load_classifier

    model = load_classifier(out / "classifier.safetensors")
    assert model.spec.arch_options["cdr_head"] is True
    assert model.network.segmentation is not None
    assert not model.cam_is_true_cam

    # the head as a second task, a GAP head: the checkpoint says so, and CAM reads the decision
    out = tmp_path / "aux"
    assert train_main(common_args(manifest, out, 2) + ["--cdr-head", "--cdr-auxiliary", "--head", "gap"]) == 0
    model = load_classifier(out / "classifier.safetensors")
    assert model.spec.arch_options == {
        **model.spec.arch_options,
        "cdr_head": True,
        "cdr_in_logit": False,
        "head": "gap",
    }
    assert model.cam_is_true_cam


def test_a_time_budget_ends_the_run_after_one_epoch_with_test_metrics(toy, tmp_path):
    from fundus_viewer.core.models.checkpoint import load_classifier

    out = tmp_path / "budget"
    assert train_main(common_args(toy, out, 30) + ["--max-minutes", "0"]) == 0
    assert [int(r["epoch"]) for r in read_log(out)] == [1]
    assert "test" in load_classifier(out / "classifier.safetensors").spec.metrics


def test_a_torchvision_network_trains_from_scratch_and_keeps_its_traced_layers(toy, tmp_path, capsys):
    from fundus_viewer.core.models.checkpoint import load_classifier

    out = tmp_path / "tv"
    args = [
        "--data",
        str(toy),
        "--out",
        str(out),
        "--arch",
        "torchvision:mobilenet_v3_small",
        "--input-size",
        "64",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--crop",
        "none",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--patience",
        "0",
    ]
    assert train_main(args) == 0
    model = load_classifier(out / "classifier.safetensors")
    assert model.spec.arch == "torchvision:mobilenet_v3_small"
    assert (model.spec.input_size, model.spec.resize) == (64, 73)  # the preset's 256 / 224 margin kept
    assert model.default_layers == tuple(f"network.features.{i}" for i in (3, 8, 12))
    assert "test" in model.spec.metrics
    with pytest.raises(SystemExit) as stop:  # argparse's usage error, before any photo is read
        train_main(["--data", str(toy), "--out", str(tmp_path / "x"), "--arch", "torchvision:nonet"])
    assert stop.value.code == 2 and "torchvision has no classification model 'nonet'" in capsys.readouterr().err


def test_a_held_out_source_is_the_test_split_and_the_report_reads_it(toy, tmp_path, capsys):
    """--hold-out through a whole run: the held-out photos alone are tested, the checkpoint records it,
    and loso-report and the card's section read the figures back."""
    import json

    from fundus_viewer.core.models.checkpoint import load_classifier
    from trainer.loso_report import main as report_main
    from trainer.model_card import main as card_main

    rows = list(csv.DictReader(toy.open()))
    for i, row in enumerate(rows):
        row["path"] = str(toy.parent / row["path"])
        row["dataset"] = "camera-b" if i % 4 == 0 else "camera-a"
    manifest = write_manifest(tmp_path / "two-cameras.csv", rows)
    out = tmp_path / "held"
    assert train_main(common_args(manifest, out, 2) + ["--hold-out", "camera-b"]) == 0
    model = load_classifier(out / "classifier.safetensors")
    held = sorted(Path(r["path"]).name for r in rows if r["dataset"] == "camera-b")
    assert model.spec.training["hold_out"] == "camera-b" and model.spec.training["split_files"]["test"] == held
    assert not set(held) & set(model.spec.training["split_files"]["train"] + model.spec.training["split_files"]["val"])
    assert set(model.spec.metrics["test"]) == {"all", "disc crops", "camera-b"}
    capsys.readouterr()
    assert report_main(["--models", str(out / "classifier.safetensors"), "--json", str(tmp_path / "loso.json")]) == 0
    assert "| camera-b | 8 (4) |" in capsys.readouterr().out
    assert json.loads((tmp_path / "loso.json").read_text())["runs"][0]["n"] == 8
    assert (
        card_main(
            [
                "--model",
                str(out / "classifier.safetensors"),
                "--out",
                str(tmp_path / "card.md"),
                "--loso",
                str(tmp_path / "loso.json"),
            ]
        )
        == 0
    )
    card = (tmp_path / "card.md").read_text()
    assert "## Leave-one-source-out (this recipe" in card and "another recipe" not in card
    # a second recipe's folds go beside the shipped one's, marked as not shipped
    assert (
        card_main(
            [
                "--model",
                str(out / "classifier.safetensors"),
                "--out",
                str(tmp_path / "card.md"),
                "--loso",
                str(tmp_path / "loso.json"),
                str(tmp_path / "loso.json"),
            ]
        )
        == 0
    )
    both = (tmp_path / "card.md").read_text()
    assert (
        both.count("| camera-b | 8 (4) |") == card.count("| camera-b | 8 (4) |") + 1
        and "## Leave-one-source-out (another recipe, not shipped" in both
    )
    assert report_main(["--models", str(toy.parent / "nothing.safetensors")]) == 2
