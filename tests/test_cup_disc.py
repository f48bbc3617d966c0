"""The optic disc / cup segmenter: the vertical cup-to-disc ratio with hand-computed answers, outlines on
the photo, its checkpoint, its trainer (on a toy set made here) and its report."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fundus_viewer.core.cup_disc import (
    CupDiscSegmenter,
    CupDiscSpec,
    load_cup_disc_segmenter,
    measure_cup_disc,
    outlines,
    save_cup_disc_segmenter,
    vertical_cdr,
    vertical_extent,
)
from fundus_viewer.core.errors import CheckpointError
from tests.test_trainer_classifier import read_log, write_manifest


def maps(disc_rows, cup_rows, size=64, cup_cols=slice(20, 40)):
    """1 x 2 x size x size logits: +10 on the given rows (disc over columns 10-49), -10 elsewhere."""
    logits = torch.full((1, 2, size, size), -10.0)
    logits[0, 0, disc_rows, 10:50] = 10.0
    if cup_rows is not None:
        logits[0, 1, cup_rows, cup_cols] = 10.0
    return logits


def test_vertical_extent_counts_first_to_last_row():
    mask = torch.zeros(2, 8, 8, dtype=torch.bool)
    mask[0, 2, 3] = mask[0, 5, 1] = True  # rows 2..5, a gap inside counts: 4
    assert vertical_extent(mask).tolist() == [4.0, 0.0]


def test_vertical_cdr_hand_computed():
    # disc rows 10..49 (40 rows), cup rows 20..39 (20 rows): 0.5
    assert vertical_cdr(maps(slice(10, 50), slice(20, 40))).item() == pytest.approx(0.5)
    # cup rows 5..39, of which 5..9 lie above the disc and do not count: rows 10..39 = 30 / 40
    assert vertical_cdr(maps(slice(10, 50), slice(5, 40))).item() == pytest.approx(0.75)
    # a cup entirely outside the disc's columns is no cup
    assert vertical_cdr(maps(slice(10, 50), slice(20, 40), cup_cols=slice(55, 60))).item() == 0.0
    # no disc found: 0, not a division by zero
    assert vertical_cdr(maps(slice(0, 0), slice(20, 40))).item() == 0.0


def test_vertical_cdr_does_not_depend_on_resolution():
    fine = maps(slice(20, 100), slice(40, 80), size=128)
    coarse = maps(slice(10, 50), slice(20, 40), size=64)
    assert vertical_cdr(fine).item() == pytest.approx(vertical_cdr(coarse).item())


def test_outlines_are_closed_polygons_around_the_regions():
    found = outlines(maps(slice(10, 50), slice(20, 40))[0])
    disc, cup = found["disc"], found["cup"]
    assert (disc.min(axis=0).tolist(), disc.max(axis=0).tolist()) == ([10.0, 10.0], [49.0, 49.0])  # (x, y)
    assert (cup.min(axis=0).tolist(), cup.max(axis=0).tolist()) == ([20.0, 20.0], [39.0, 39.0])
    assert np.array_equal(disc[0], disc[-1])
    assert outlines(maps(slice(0, 0), None)[0]) == {}


def forced_segmenter(cup: bool, size: int = 64) -> CupDiscSegmenter:
    """A segmenter that finds the disc everywhere in its square, and the cup everywhere or nowhere."""
    torch.manual_seed(0)
    model = CupDiscSegmenter(CupDiscSpec(base=4, depth=2, input_size=size, resize=size))
    with torch.no_grad():
        model.network.head.weight.zero_()
        model.network.head.bias.copy_(torch.tensor([50.0, 50.0 if cup else -50.0]))
    return model.eval()


def test_measurement_maps_the_outline_onto_the_photo():
    # No dark surround: a disc crop, used whole; its square is the photo itself (100 px -> 64 px).
    photo = np.full((100, 100, 3), 150, np.uint8)
    measured = measure_cup_disc(forced_segmenter(cup=False), photo)
    assert measured.vcdr == 0.0 and "cup" not in measured.outlines
    disc = measured.outlines["disc"]
    # map pixels 0 and 63 have their centres at photo x, y = (p + 0.5) * 100 / 64 - 0.5
    assert disc.min() == pytest.approx(0.28125) and disc.max() == pytest.approx(98.71875)
    assert measure_cup_disc(forced_segmenter(cup=True), photo).vcdr == 1.0


def test_checkpoint_round_trip_and_wrong_files(tmp_path, tiny_checkpoint):
    model = forced_segmenter(cup=True)
    path = save_cup_disc_segmenter(model, tmp_path / "cd.safetensors")
    loaded = load_cup_disc_segmenter(path)
    assert loaded.spec == model.spec
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(CheckpointError, match="a classifier, not a cup/disc segmenter"):
        load_cup_disc_segmenter(tiny_checkpoint)
    with pytest.raises(CheckpointError, match="no such model file"):
        load_cup_disc_segmenter(tmp_path / "missing.safetensors")


@pytest.fixture
def toy_masks(tmp_path):
    """Disc-crop photos (no dark surround) with expert-style masks: a disc of radius 0.4 of the photo,
    a cup of 0.3 (glaucoma) or 0.1 (normal), drawn as a pale spot in the photo too."""
    size = 96
    yy, xx = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(0)
    rows = []
    for label, cup_radius in (("glaucoma", 0.3), ("normal", 0.1)):
        for i in range(6):
            stem = f"{label}_{i}"
            rgb = np.zeros((size, size, 3), np.float32) + [170, 90, 50] + rng.normal(0, 6, (size, size, 3))
            for radius, colour in ((0.4, [230, 160, 110]), (cup_radius, [250, 235, 200])):
                rgb[(xx - 48) ** 2 + (yy - 48) ** 2 < (radius * size) ** 2] = colour
            Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(tmp_path / f"{stem}.png")
            rows.append(
                {
                    "path": f"{stem}.png",
                    "label": label,
                    "dataset": "toy",
                    "split": "none",
                    "role": "photo",
                    "pair_id": stem,
                }
            )
            for role, radius in (("disc_mask", 0.4), ("cup_mask", cup_radius)):
                mask = ((xx - 48) ** 2 + (yy - 48) ** 2 < (radius * size) ** 2).astype(np.uint8) * 255
                Image.fromarray(mask).save(tmp_path / f"{stem}.{role}.png")
                rows.append(
                    {
                        "path": f"{stem}.{role}.png",
                        "label": label,
                        "dataset": "toy",
                        "split": "none",
                        "role": role,
                        "pair_id": stem,
                    }
                )
    return write_manifest(tmp_path / "manifest.csv", rows)


def train_args(manifest, out, epochs):
    return [
        "cup-disc",
        "--data",
        str(manifest),
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--size",
        "32",
        "--resize",
        "36",
        "--base",
        "4",
        "--depth",
        "2",
        "--batch-size",
        "4",
        "--lr",
        "1e-2",
        "--workers",
        "0",
        "--device",
        "cpu",
    ]


def test_trainer_learns_resumes_and_reports(toy_masks, tmp_path):
    from trainer.cli import main as fundus_train

    out = tmp_path / "run"
    assert fundus_train(train_args(toy_masks, out, 6)) == 0
    log = read_log(out)
    assert [int(r["epoch"]) for r in log] == [1, 2, 3, 4, 5, 6]
    assert float(log[-1]["train_loss"]) < float(log[0]["train_loss"])
    model = load_cup_disc_segmenter(out / "cup-disc.safetensors")
    assert model.spec.input_size == 32 and "test" in model.spec.metrics
    # resume: two more epochs continue the log rather than restart it
    assert fundus_train(train_args(toy_masks, out, 8) + ["--resume"]) == 0
    assert [int(r["epoch"]) for r in read_log(out)] == list(range(1, 9))

    report = tmp_path / "report.json"
    assert (
        fundus_train(
            [
                "cup-disc-report",
                "--data",
                str(toy_masks),
                "--model",
                str(out / "cup-disc.safetensors"),
                "--all",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    figures = json.loads(report.read_text())
    assert figures["photos"] == 12 and 0 <= figures["disc_dice"] <= 1 and 0 <= figures["cup_dice"] <= 1
    # the experts' vCDR of these masks, by hand: cup rows / disc rows of two centred circles
    expected = {1: (2 * 28 + 1) / (2 * 38 + 1), 0: (2 * 9 + 1) / (2 * 38 + 1)}
    for row in figures["rows"]:
        assert row["expert_vcdr"] == pytest.approx(expected[row["label"]])
    assert figures["auc_expert_vcdr"] == 1.0


def test_trainer_needs_photos_with_both_masks(tmp_path, capsys):
    from trainer.cli import main as fundus_train

    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,role,pair_id\na.png,glaucoma,photo,a\na.png,normal,photo,b\n")
    assert fundus_train(["cup-disc", "--data", str(manifest), "--out", str(tmp_path / "o")]) == 2
    assert "no labelled photo has both a disc_mask and a cup_mask" in capsys.readouterr().err


class SizeSensitiveSegmenter(torch.nn.Module):
    """Marks bright pixels as disc (and the brightest as cup), but only where the bright region fills
    5-60 % of its square: like a trained segmenter, it misses a disc far smaller or larger than in
    training."""

    def __init__(self):
        super().__init__()
        self.spec = CupDiscSpec(input_size=64, resize=64, diameters=1.75)
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # a device to read
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        bright = x.mean(dim=1) > 0.7
        share = bright.float().mean(dim=(-2, -1))
        plausible = ((share > 0.05) & (share < 0.6)).view(-1, 1, 1)
        disc = torch.where(bright & plausible, 10.0, -10.0)
        return torch.stack([disc, torch.full_like(disc, -10.0)], dim=1)


def _photo_with_disc(make_fundus, located_radius):
    from fundus_viewer.core.disc import OpticDisc
    from fundus_viewer.core.photo import prepare_photo

    photo = prepare_photo(
        make_fundus(height=800, width=900, centre=(450, 400), radius=380, spot=(330, 420), spot_radius=40)
    )
    photo.__dict__["disc"] = OpticDisc(335.0, 415.0, located_radius, located=True)  # the classical locator's guess
    return photo


@pytest.mark.parametrize("located_radius", [40.0, 110.0, 18.0])
def test_the_disc_is_found_and_refined_whatever_the_located_radius(make_fundus, located_radius):
    """Truth: a disc of radius 40 at (330, 420). Located right (40), 2.75 x too large or 2.2 x too small,
    the segmenter ends on a square centred on the true disc, sized to it."""
    from fundus_viewer.core.cup_disc import SEARCH_SCALES, segment_disc

    model = SizeSensitiveSegmenter()
    found = segment_disc(model, _photo_with_disc(make_fundus, located_radius))
    assert found.disc is not None
    assert abs(found.disc.x - 330) < 4 and abs(found.disc.y - 420) < 4
    assert found.disc.radius == pytest.approx(40, rel=0.1)
    assert found.squares == model.calls
    # located right: the first square finds it and one re-centred square follows; otherwise the search
    assert found.squares == (2 if located_radius == 40.0 else 2 + len(SEARCH_SCALES))
    measured = measure_cup_disc(model, _photo_with_disc(make_fundus, located_radius))
    assert measured.disc.radius == pytest.approx(40, rel=0.1)
    xs, ys = measured.outlines["disc"][:, 0], measured.outlines["disc"][:, 1]
    assert abs(xs.min() - 290) < 6 and abs(xs.max() - 370) < 6 and abs(ys.max() - 460) < 6


def test_no_disc_anywhere_says_so_after_the_search(make_fundus):
    from fundus_viewer.core.cup_disc import SEARCH_SCALES, segment_disc
    from fundus_viewer.core.disc import OpticDisc
    from fundus_viewer.core.photo import prepare_photo

    photo = prepare_photo(make_fundus(height=800, width=900, centre=(450, 400), radius=380))
    photo.__dict__["disc"] = OpticDisc(450.0, 400.0, 40.0, located=True)
    found = segment_disc(SizeSensitiveSegmenter(), photo)
    assert found.disc is None and found.squares == 1 + len(SEARCH_SCALES)
    assert measure_cup_disc(SizeSensitiveSegmenter(), photo).outlines == {}


def test_a_disc_crop_is_segmented_whole_once(make_fundus):
    from fundus_viewer.core.cup_disc import segment_disc

    crop = np.full((200, 200, 3), (150, 70, 30), np.uint8)
    yy, xx = np.mgrid[0:200, 0:200]
    crop[(xx - 100) ** 2 + (yy - 100) ** 2 < 50**2] = 255
    model = SizeSensitiveSegmenter()
    found = segment_disc(model, crop)
    assert found.squares == 1 == model.calls
    assert found.disc.radius == pytest.approx(50, rel=0.1)


def test_a_square_marked_whole_is_no_disc(make_fundus):
    """A segmenter that marks every square whole finds nothing that could be a disc around a located
    disc: "no disc found", not the square's outline."""
    from fundus_viewer.core.cup_disc import SEARCH_SCALES, segment_disc

    model = SizeSensitiveSegmenter()
    model.forward = lambda x: torch.stack([torch.full_like(x[:, 0], 10.0), torch.full_like(x[:, 0], -10.0)], dim=1)
    found = segment_disc(model, _photo_with_disc(make_fundus, 40.0))
    assert found.disc is None and found.squares == 1 + len(SEARCH_SCALES)
    assert measure_cup_disc(model, _photo_with_disc(make_fundus, 40.0)).outlines == {}
