"""What a generator is given besides noise (issue #14): the field of view and the disc and cup, the
vCDR a rating study asks for, and gan-report on photos the generators never saw."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fundus_viewer.core.cup_disc import vertical_cdr_of_masks
from fundus_viewer.core.gan.conditions import (
    disc_from_vessels,
    drawn_disc_cup,
    ellipse,
    map_fov,
    stack_condition,
    with_vcdr,
)
from fundus_viewer.core.gan.networks import Discriminator, GanSpec, Generator
from fundus_viewer.core.gan.pairs import GanPair
from fundus_viewer.core.gan.report import ROUND, fov_circularity

CONDITIONED = GanSpec(size=64, gen_base=8, gen_depth=2, disc_base=8, disc_layers=2, fov_channel=True, disc_cup=True)


def vcdr(disc: np.ndarray, cup: np.ndarray) -> float:
    return float(vertical_cdr_of_masks(torch.from_numpy(disc > 0.5)[None], torch.from_numpy(cup > 0.5)[None])[0])


def test_a_bare_maps_field_is_its_centred_circle_inside_its_frame():
    square = map_fov((100, 100), 64)
    assert square.sum() == pytest.approx(np.pi * 32**2, rel=0.03)  # the inscribed circle
    wide = map_fov((50, 100), 64)  # padded to 100 x 100: the map covers rows 16-47 of 64
    rows = np.nonzero(wide.any(axis=1))[0]
    assert (rows.min(), rows.max()) == (16, 47)
    assert wide[32].sum() == 64 and wide[16].sum() < 64  # the circle's full width across the middle, cut at the frame


def test_the_cup_drawn_has_the_vcdr_asked_for():
    disc = ellipse(128, (60.0, 70.0), (18.0, 20.0))  # 40 rows tall
    for asked in (0.3, 0.5, 0.8):
        assert vcdr(disc, with_vcdr(disc, asked)) == pytest.approx(asked, abs=1.5 / 40)
    disc, cup = drawn_disc_cup(128, (64.0, 64.0), 20.0, 0.6)
    assert vcdr(disc, cup) == pytest.approx(0.6, abs=1.5 / 40) and (cup <= disc).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        with_vcdr(disc, 1.2)


def test_the_disc_of_a_vessel_map_is_where_its_tree_converges():
    size = 128
    fov = map_fov((size, size), size)
    vessels = np.zeros((size, size), np.float32)
    yy, xx = np.mgrid[:size, :size]
    for angle in np.linspace(0, 2 * np.pi, 7, endpoint=False):  # vessels leaving a disc at (40, 64)
        along = (xx - 40) * np.cos(angle) + (yy - 64) * np.sin(angle)
        across = np.abs(-(xx - 40) * np.sin(angle) + (yy - 64) * np.cos(angle))
        vessels[(across < 1.5) & (along > 0) & (fov > 0)] = 1
    (cx, cy), radius = disc_from_vessels(vessels, fov)
    assert abs(cx - 40) <= 4 and abs(cy - 64) <= 4
    assert radius == pytest.approx(0.07 * size, rel=0.05)


def test_the_generator_takes_its_conditions_and_paints_nothing_outside_the_field():
    torch.manual_seed(0)
    g, d = Generator(CONDITIONED), Discriminator(CONDITIONED)
    first = next(m for m in g.network.down[0].modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 5  # vessels, fov, disc, cup, noise
    fov = map_fov((64, 64), 64)
    disc, cup = drawn_disc_cup(64, (24.0, 32.0), 6.0, 0.5)
    y = torch.from_numpy(stack_condition(CONDITIONED, np.zeros((64, 64)), fov, disc, cup))[None]
    out = g(y)
    assert out.shape == (1, 3, 64, 64)
    assert out[0][:, fov == 0].abs().max() == 0 and out[0][:, fov == 1].min() > 0
    assert d(out, y).shape[:2] == (1, 1)
    with pytest.raises(ValueError, match="4 condition channel"):
        g(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="disc and cup"):
        stack_condition(CONDITIONED, np.zeros((64, 64)), fov)


def test_a_rotated_training_pair_turns_every_channel_together():
    from trainer.gan_data import PairDataset

    size = 64
    fov = np.zeros((size, size), np.float32)
    fov[:, : size // 2] = 1  # a half field: any turn but 0 moves it
    photo = np.full((size, size, 3), 200, np.uint8)
    pair = GanPair("a", "x", 1, photo, fov.copy(), (32.0, 32.0), 20, fov=fov, disc=fov.copy(), cup=fov.copy())
    dataset = PairDataset([pair], rotate=True, seed=3, spec=CONDITIONED)
    real, condition, _ = dataset[0]
    vessels, field, disc, cup = condition.numpy()
    assert not np.array_equal(field, fov)  # it turned
    assert np.mean((vessels > 0.5) == (field > 0.5)) > 0.98  # the map turned with the field
    assert np.array_equal(disc, field) and np.array_equal(cup, field)  # and so did the masks, still 0/1
    assert real[:, field == 0].max() == 0 and real[:, field == 1].median() > 0.7  # black outside the turned field


def test_round_fields_are_told_from_frames_and_blobs():
    size = 128
    disc = (ellipse(size, (64.0, 64.0), (56.0, 56.0))[..., None] * [180, 80, 40]).astype(np.uint8)
    assert fov_circularity(disc) > 0.85
    frame = np.full((size, size, 3), 150, np.uint8)  # a photo that fills its frame: no round field
    assert fov_circularity(frame) < ROUND - 0.05
    cut = disc.copy()
    cut[:14], cut[-14:] = 0, 0  # HRF's field, cut at top and bottom, is round
    assert fov_circularity(cut) >= ROUND
    blob = disc.copy()
    blob[:, 64:] = 0
    blob[40:90, 64:110] = [180, 80, 40]  # half a disc with a box stuck on
    assert fov_circularity(blob) < ROUND


def test_one_synthetic_photo_has_no_fid_or_kid_rather_than_a_crash():
    from fundus_viewer.core.gan.report import fid, kid

    one, many = np.ones((1, 8)), np.random.default_rng(0).normal(size=(20, 8))
    assert np.isnan(fid(one, many)) and np.isnan(kid(one, many)[0])
    assert np.isfinite(fid(many[:10], many[10:]))


def toy_photo(condition: np.ndarray) -> np.ndarray:
    """What the toy generator learns to paint: red fundus, orange disc, white cup, black outside."""
    _, fov, disc, cup = condition
    rgb = np.zeros((*fov.shape, 3), np.float32)
    rgb[fov > 0] = [0.55, 0.15, 0.05]
    rgb[disc > 0] = [0.9, 0.6, 0.25]
    rgb[cup > 0] = [1.0, 1.0, 0.9]
    return rgb


def test_vcdr_moves_the_segmented_vcdr_of_the_output(tmp_path):
    """A toy generator that has learnt to draw the disc and cup it is given: synthesize --vcdr 0.3 and
    0.8 on the same vessel map give photos whose cups, segmented by colour, are small and large."""
    from fundus_viewer.cli.main import main as viewer_main
    from fundus_viewer.core.gan.checkpoint import save_generator

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    spec = GanSpec(size=48, gen_base=4, gen_depth=1, fov_channel=True, disc_cup=True)
    spec.training["disc_radius_share"] = 0.16  # the discs it learnt: radius 6-9 px in a 48 px field
    size = spec.size
    fov = map_fov((size, size), size)
    g = Generator(spec)
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    for _ in range(300):
        batch = []
        for _ in range(4):
            disc, cup = drawn_disc_cup(
                size, tuple(rng.uniform(16, 32, 2)), float(rng.uniform(6, 9)), float(rng.uniform(0.2, 0.9))
            )
            vessels = np.zeros((size, size), np.float32)  # a few strips the toy photo ignores
            for row, col in rng.integers(4, size - 20, (3, 2)):
                vessels[row : row + 3, col : col + 16] = 1
            batch.append(stack_condition(spec, vessels, fov, disc, cup))
        y = torch.from_numpy(np.stack(batch))
        target = torch.from_numpy(np.stack([toy_photo(c) for c in batch])).permute(0, 3, 1, 2)
        loss = (g(y) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.03
    model = save_generator(g, tmp_path / "toy.safetensors")
    vessel_map = np.zeros((size, size), np.uint8)
    vessel_map[22:26, 8:24] = 255  # a vessel leaving the disc's place
    Image.fromarray(vessel_map).save(tmp_path / "map.png")
    measured = {}
    for asked in (0.3, 0.8):
        out = tmp_path / f"v{asked}"
        assert (
            viewer_main(
                [
                    "synthesize",
                    "--vessels",
                    str(tmp_path / "map.png"),
                    "--out",
                    str(out),
                    "--model",
                    str(model),
                    "--vcdr",
                    str(asked),
                    "--device",
                    "cpu",
                ]
            )
            == 0
        )
        photo = np.asarray(Image.open(out / "map.synthetic-0.png")).astype(np.float32) / 255
        given = np.asarray(Image.open(out / "map.disc-cup.png")).astype(np.float32) / 255
        assert vcdr(given > 0.25, given > 0.75) == pytest.approx(asked, abs=0.1)  # what the generator was told
        measured[asked] = vcdr(photo[..., 1] > 0.4, photo[..., 2] > 0.6)  # disc: green; cup: blue
    assert measured[0.3] == pytest.approx(0.3, abs=0.15) and measured[0.8] == pytest.approx(0.8, abs=0.15)
    assert measured[0.8] - measured[0.3] > 0.3


def test_vcdr_is_refused_by_a_generator_without_disc_and_cup(tmp_path, capsys):
    from fundus_viewer.cli.main import main as viewer_main
    from fundus_viewer.core.gan.checkpoint import save_generator

    model = save_generator(Generator(GanSpec(size=32, gen_base=4, gen_depth=2)), tmp_path / "g.safetensors")
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
                str(model),
                "--vcdr",
                "0.7",
            ]
        )
        == 2
    )
    assert "--vcdr needs a generator trained with disc and cup masks" in capsys.readouterr().err


def test_gan_report_measures_a_generator_on_photos_outside_its_split(tmp_path, make_fundus, tiny_checkpoint, capsys):
    """Trained with the field of view and disc/cup on one folder, reported on another it never saw:
    every photo's map is used, the output says so, and the rater figures are there."""
    from fundus_viewer.cli.main import main as viewer_main
    from fundus_viewer.core.gan.checkpoint import load_generator
    from trainer.gan import main as gan_main

    for first, (folder, names) in ((0, ("train", "abcdef")), (100, ("other", "uvwxy"))):
        for label, group in (("glaucoma", names), ("normal", "mn")):  # a labelled folder has both classes
            (tmp_path / folder / label).mkdir(parents=True)
            for k, name in enumerate(group):
                photo = make_fundus(
                    height=160,
                    width=200,
                    centre=(100, 80),
                    radius=75,
                    spot=(110, 80),
                    spot_radius=6,
                    seed=first + k + 50 * (label == "normal"),
                )
                Image.fromarray(photo).save(tmp_path / folder / label / f"{name}.png")
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert (
        gan_main(
            [
                "--data",
                str(tmp_path / "train"),
                "--out",
                str(out),
                "--classifier",
                str(tiny_checkpoint),
                "--vessel-cache",
                str(cache),
                "--steps",
                "2",
                "--size",
                "32",
                "--gen-base",
                "4",
                "--gen-depth",
                "2",
                "--batch-size",
                "2",
                "--disc-cup",
                "--test-fraction",
                "0.34",
                "--workers",
                "0",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    spec = load_generator(out / "generator.safetensors").spec
    assert spec.fov_channel and spec.disc_cup and "disc_found" in spec.training
    report = tmp_path / "report.json"
    capsys.readouterr()
    assert (
        viewer_main(
            [
                "gan-report",
                "--data",
                str(tmp_path / "other"),
                "--models",
                str(out / "generator.safetensors"),
                "--classifier",
                str(tiny_checkpoint),
                "--vessel-cache",
                str(cache),
                "--samples",
                "1",
                "--json",
                str(report),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (
        "the 5 glaucoma full-field photos' vessel maps of --data (none of them in the generators' split)"
        in capsys.readouterr().out
    )
    figures = json.loads(report.read_text())
    generator = figures["generators"][0]
    assert (
        generator["n_synthetic"] == 5 and 0 <= generator["disc_found"] <= 1 and generator["fov_round"] == 1.0
    )  # the field is given: always round
    assert figures["real"]["fov_round"] == 1.0
    # photos it trained on, without one it held out, are neither: refused (the training manifest itself
    # reports on its held-out maps: test_import_model)
    common = [
        "--models",
        str(out / "generator.safetensors"),
        "--classifier",
        str(tiny_checkpoint),
        "--vessel-cache",
        str(cache),
        "--samples",
        "1",
        "--device",
        "cpu",
    ]
    for label, names in (("glaucoma", spec.training["split"]["train"]), ("normal", ["m.png", "n.png"])):
        (tmp_path / "seen" / label).mkdir(parents=True)
        for name in names:  # renamed: recognised by content, not by name
            (tmp_path / "seen" / label / f"copy-{name}").write_bytes((tmp_path / "train" / label / name).read_bytes())
    assert viewer_main(["gan-report", "--data", str(tmp_path / "seen"), *common]) == 2
    assert "holds photos the generators trained on but none they held out" in capsys.readouterr().err
