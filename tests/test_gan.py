"""Patho-GAN at tiny size: networks, L_patho's gradient, the 2:1 update schedule, the trainer (resume
after a kill, messages), synthesis and the report's distances."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fundus_viewer.core.gan.networks import Discriminator, GanSpec, Generator
from fundus_viewer.core.gan.pathology_loss import classifier_input, crop_transform, pathology_loss, rotate_point
from fundus_viewer.core.gan.report import fid, kid
from tests.test_trainer_vessels import make_pairs

TINY = GanSpec(size=32, gen_base=4, gen_depth=2, disc_base=8, disc_layers=2)


def test_shapes_range_and_noise():
    torch.manual_seed(0)
    g, d = Generator(TINY), Discriminator(TINY)
    vessels = torch.rand(2, 1, 32, 32)
    out = g(vessels)
    assert out.shape == (2, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    assert d(out, vessels).shape[:2] == (2, 1)
    z = g.noise(vessels, torch.Generator().manual_seed(1))
    assert z.std().item() == pytest.approx(0.01, rel=0.2)  # the paper's sigma
    assert torch.equal(g(vessels, z), g(vessels, z))
    assert not torch.equal(g(vessels, z), g(vessels, g.noise(vessels, torch.Generator().manual_seed(2))))


def test_differentiable_crop_matches_the_classifiers_own(tiny_alexnet):
    from fundus_viewer.core.transform import InputTransform

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (96, 96, 3)).astype(np.uint8)
    transform = InputTransform(96, 96, 10, -6, 60, 280, 227)  # part of it beyond the photo: black
    expected = transform.to_input(image).astype(np.float32) / 255
    got = classifier_input(torch.from_numpy(image).permute(2, 0, 1).float() / 255, transform).permute(1, 2, 0).numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 0.01  # bilinear vs OpenCV's: the same picture


def test_rotate_point_follows_opencv():
    import cv2

    image = np.zeros((41, 41), np.float32)
    image[8, 30] = 1
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((20, 20), 37, 1.0), (41, 41))
    y, x = np.unravel_index(turned.argmax(), turned.shape)
    assert rotate_point((30, 8), 37, 41) == pytest.approx((x, y), abs=1)


def test_pathology_gradient_reaches_the_generator(tiny_alexnet):
    torch.manual_seed(0)
    g = Generator(TINY)
    vessels, real = torch.rand(2, 1, 32, 32), torch.rand(2, 3, 32, 32)
    transforms = [crop_transform(tiny_alexnet, (16, 16), 20, 32)] * 2
    loss, _, _ = pathology_loss(tiny_alexnet, real, g(vessels), transforms, "both")
    assert loss.item() > 0
    loss.backward()
    grads = [p.grad for p in g.parameters()]
    assert all(gr is not None for gr in grads) and sum(gr.abs().sum().item() for gr in grads) > 0


def make_steps(classifier, lam, l1=0.0):
    from trainer.gan import PRESETS, GanSteps

    torch.manual_seed(0)
    settings = {**PRESETS["laptop"], "l1": l1}
    return GanSteps(Generator(TINY), Discriminator(TINY), classifier, settings, lam, "both", torch.device("cpu"))


def test_lambda_zero_leaves_the_pathology_term_out(tiny_alexnet, monkeypatch):
    import fundus_viewer.core.gan.pathology_loss as module

    batch = (torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32), torch.tensor([[16.0, 16.0, 20.0]] * 2))
    with_patho = make_steps(tiny_alexnet, 1000.0).iteration([batch, batch])
    assert with_patho["g_patho"] > 0

    def refuse(*_args, **_kwargs):
        raise AssertionError("L_patho computed with lambda 0")

    monkeypatch.setattr(module, "pathology_loss", refuse)
    baseline = make_steps(tiny_alexnet, 0.0)
    terms = baseline.iteration([batch, batch])
    assert "g_patho" not in terms
    # the same first generator step, by hand: the adversarial loss alone moves G exactly as the trainer did
    manual = make_steps(tiny_alexnet, 0.0)
    real, vessels, _ = batch
    torch.manual_seed(5)
    manual.generator_step(real, vessels, None)
    torch.manual_seed(5)
    fresh = make_steps(tiny_alexnet, 0.0)
    torch.manual_seed(5)
    synthetic = fresh.G(vessels)
    logits = fresh.D(synthetic, vessels)
    torch.nn.BCEWithLogitsLoss()(logits, torch.ones_like(logits)).backward()
    fresh.opt_g.step()
    for a, b in zip(manual.G.parameters(), fresh.G.parameters(), strict=True):
        assert torch.allclose(a, b)


def test_two_generator_updates_per_discriminator_update(tiny_alexnet):
    steps = make_steps(tiny_alexnet, 1000.0)
    batch = (torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32), torch.tensor([[16.0, 16.0, 20.0]] * 2))
    d_before = [p.clone() for p in steps.D.parameters()]
    for _ in range(3):
        steps.iteration([batch, batch])
    assert (steps.g_steps, steps.d_steps) == (6, 3)
    assert any(not torch.equal(a, b) for a, b in zip(d_before, steps.D.parameters(), strict=True))


def gan_args(data, out, classifier, steps, every=1):
    return [
        "--data",
        str(data),
        "--vessels",
        "masks",
        "--out",
        str(out),
        "--classifier",
        str(classifier),
        "--steps",
        str(steps),
        "--size",
        "32",
        "--gen-base",
        "4",
        "--gen-depth",
        "2",
        "--batch-size",
        "2",
        "--sample-every",
        str(every),
        "--checkpoint-every",
        str(every),
        "--workers",
        "0",
        "--device",
        "cpu",
    ]


@pytest.fixture(scope="module")
def pairs_folder(tmp_path_factory):
    return make_pairs(tmp_path_factory.mktemp("gan-data"), count=5, size=64)


def test_trainer_resumes_after_a_kill(pairs_folder, tiny_checkpoint, tmp_path):
    from trainer.gan import main as gan_main

    out = tmp_path / "run"
    command = [sys.executable, "-m", "trainer", "gan", *gan_args(pairs_folder, out, tiny_checkpoint, 400)]
    proc = subprocess.Popen(
        command, cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            rows = list(csv.DictReader((out / "log.csv").open())) if (out / "log.csv").exists() else []
            if len(rows) >= 3 and (out / "last.pt").exists():
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    from trainer.state import load_state

    saved = load_state(out / "last.pt")["step"]
    assert saved >= 1
    total = saved + 2
    assert gan_main(gan_args(pairs_folder, out, tiny_checkpoint, total) + ["--resume"]) == 0
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, total + 1))  # no gap, no repeat
    from fundus_viewer.core.gan.checkpoint import load_generator

    generator = load_generator(out / "generator.safetensors")
    assert generator.spec.training["g_steps"] == 2 * generator.spec.training["d_steps"] == 2 * total
    assert (out / "samples" / f"step-{total:06d}.png").exists()


def test_missing_or_wrong_checkpoints_are_named(pairs_folder, tmp_path, tiny_checkpoint, capsys):
    from fundus_viewer.cli.main import main as viewer_main
    from trainer.gan import main as gan_main

    assert gan_main(gan_args(pairs_folder, tmp_path / "x", tmp_path / "absent.safetensors", 1)) == 2
    assert "absent.safetensors: no such model file" in capsys.readouterr().err
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "v.png")
    assert (
        viewer_main(
            [
                "synthesize",
                "--vessels",
                str(tmp_path / "v.png"),
                "--out",
                str(tmp_path / "o"),
                "--model",
                str(tiny_checkpoint),
            ]
        )
        == 2
    )
    assert "classifier, not a Patho-GAN generator checkpoint" in capsys.readouterr().err


def test_synthesize_command(tmp_path):
    from dataclasses import replace

    from fundus_viewer.cli.main import main as viewer_main
    from fundus_viewer.core.gan.checkpoint import save_generator

    torch.manual_seed(0)
    # untrained, a generator barely reacts to the paper's sigma of 0.01: a large one shows the noise is used
    model = save_generator(Generator(replace(TINY, noise_sigma=2.0)), tmp_path / "g.safetensors")
    vessel_map = np.zeros((50, 70), np.uint8)
    vessel_map[20:24, :] = 255
    Image.fromarray(vessel_map).save(tmp_path / "map.png")
    assert (
        viewer_main(
            [
                "synthesize",
                "--vessels",
                str(tmp_path / "map.png"),
                "--out",
                str(tmp_path / "o"),
                "--model",
                str(model),
                "--n",
                "3",
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    images = [np.asarray(Image.open(tmp_path / "o" / f"map.synthetic-{k}.png")) for k in range(3)]
    assert all(i.shape == (32, 32, 3) for i in images) and not np.array_equal(images[0], images[1])
    # the same seed gives the same photos, whatever the batch size
    assert (
        viewer_main(
            [
                "synthesize",
                "--vessels",
                str(tmp_path / "map.png"),
                "--out",
                str(tmp_path / "p"),
                "--model",
                str(model),
                "--n",
                "3",
                "--batch-size",
                "1",
            ]
        )
        == 0
    )
    assert np.array_equal(images[2], np.asarray(Image.open(tmp_path / "p" / "map.synthetic-2.png")))


def test_fid_and_kid_known_answers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    b = rng.normal(size=(4000, 3)) + np.array([2.0, 0.0, 0.0])
    assert fid(a, a) == pytest.approx(0, abs=1e-6)
    assert fid(a, b) == pytest.approx(4.0, abs=0.15)  # same covariance: |mu_a - mu_b|^2
    assert abs(kid(a, rng.normal(size=(4000, 3)), subsets=5, subset_size=1000)[0]) < 0.02
    assert kid(a, b, subsets=5, subset_size=1000)[0] > 0.5


def test_fid_of_fewer_photos_than_features_and_kid_worked_out_by_hand():
    """48 photos in 256 feature dimensions give singular covariances (the gan-report case); a shifted copy
    has the same covariance, so its FID is |shift|^2 exactly. KID on three photos a side with every photo
    in the one subset is the unbiased MMD^2 of the cubic kernel, written out here."""
    import torch

    rng = np.random.default_rng(0)
    a = rng.normal(size=(48, 256))
    assert fid(a, a + 0.1) == pytest.approx(256 * 0.01, rel=1e-4)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)) + 0.5
    k = lambda p, q: (p @ q.T / 4 + 1) ** 3  # noqa: E731
    by_hand = (k(x, x).sum() - np.trace(k(x, x)) + k(y, y).sum() - np.trace(k(y, y))) / 6 - 2 * k(x, y).mean()
    state = torch.random.get_rng_state()
    assert kid(x, y, subsets=3)[0] == pytest.approx(by_hand, rel=1e-9)
    assert torch.equal(torch.random.get_rng_state(), state)  # its subsets leave the caller's draws alone
    assert kid(a, a + 0.3, subsets=4, subset_size=10) == kid(a, a + 0.3, subsets=4, subset_size=10)


def test_two_processes_under_torchrun_write_the_single_process_format(pairs_folder, tiny_checkpoint, tmp_path):
    """torchrun --nproc_per_node 2 on the CPU (gloo): one log, one checkpoint that a single process loads and
    resumes."""
    from fundus_viewer.core.gan.checkpoint import load_generator
    from trainer.gan import main as gan_main

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "trainer",
        "gan",
        *gan_args(pairs_folder, out, tiny_checkpoint, 3),
    ]
    result = subprocess.run(
        command, cwd=Path(__file__).parents[1], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]  # rank 0 alone logs
    generator = load_generator(out / "generator.safetensors")
    assert "2 processes" in generator.spec.training["machine"]
    assert generator.spec.training["g_steps"] == 6
    assert gan_main(gan_args(pairs_folder, out, tiny_checkpoint, 4) + ["--resume"]) == 0  # one process goes on
    assert [int(r["step"]) for r in csv.DictReader((out / "log.csv").open())] == [1, 2, 3, 4]
