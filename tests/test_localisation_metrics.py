"""Localisation and faithfulness metrics with answers worked out by hand, and against Quantus."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fundus_viewer.core.faithfulness import curve_area, faithfulness_scores, perturbation_curve, pixel_order
from fundus_viewer.core.localisation_metrics import (
    localisation_scores,
    pointing_game,
    rank_accuracy,
    region_auc,
    top_share,
)

BOX = (slice(2, 6), slice(3, 8))  # 4 x 5 = 20 of 10 x 12 = 120 pixels


@pytest.fixture
def region():
    mask = np.zeros((10, 12), bool)
    mask[BOX] = True
    return mask


def test_a_delta_inside_the_box_scores_one(region):
    heat = np.zeros(region.shape)
    heat[3, 4] = 1.0
    scores = localisation_scores(heat, region)
    assert scores["accuracy"] == scores["pointing-game"] == scores["rank-accuracy"] == scores["top-k"] == 1.0
    assert scores["auc"] == pytest.approx((1 * 100 + 19 * 100 * 0.5) / (20 * 100))  # one pixel above, the rest tied


def test_a_flat_map_scores_chance_on_every_metric(region):
    heat = np.full(region.shape, 0.3)
    share = 20 / 120
    scores = localisation_scores(heat, region)
    assert scores["accuracy"] == pytest.approx(share) and scores["pointing-game"] == pytest.approx(share)
    assert scores["rank-accuracy"] == pytest.approx(share) and scores["top-k"] == pytest.approx(share)
    assert scores["auc"] == 0.5


def test_ties_at_the_last_rank_count_in_proportion(region):
    heat = np.zeros(region.shape)
    heat[BOX] = 0.5  # the 20 box pixels ...
    heat[0, :10] = 0.5  # ... tied with 10 outside, and 2 above them all, one in, one out
    heat[2, 3], heat[9, 11] = 1.0, 1.0
    # K = 20: the 2 top pixels (1 inside), then 18 of the 29 tied at 0.5 (19 of them inside)
    assert rank_accuracy(heat, region) == pytest.approx((1 + 18 * 19 / 29) / 20)
    assert pointing_game(heat, region) == 0.5
    assert top_share(heat, region, 1000) == pytest.approx(20 / 31)  # fewer positive pixels than k: all of them


def test_no_heat_is_not_a_score(region):
    zero = np.zeros(region.shape)
    assert (
        np.isnan(pointing_game(zero, region))
        and np.isnan(rank_accuracy(zero, region))
        and np.isnan(region_auc(zero, region))
    )


def test_without_ties_the_figures_are_quantus_figures(region):
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(3)
    maps = rng.random((4, 1, *region.shape))
    masks = np.broadcast_to(region, (4, 1, *region.shape)).astype(float)
    args = dict(model=None, x_batch=np.zeros_like(maps), y_batch=np.zeros(4, int), a_batch=maps, s_batch=masks)
    options = dict(disable_warnings=True, normalise=False, abs=False)
    theirs = {
        "pointing-game": quantus.PointingGame(**options)(**args),
        "rank-accuracy": quantus.RelevanceRankAccuracy(**options)(**args),
        "auc": quantus.AUC(**options)(**args),
    }
    ours = {"pointing-game": pointing_game, "rank-accuracy": rank_accuracy, "auc": region_auc}
    for metric, function in ours.items():
        assert [function(m[0], region) for m in maps] == pytest.approx([float(v) for v in theirs[metric]]), metric
    with pytest.raises(AssertionError):  # Quantus refuses a flat map; ours scores it at chance
        quantus.PointingGame(**options)(**{**args, "a_batch": np.ones_like(maps)})


def test_deletion_on_a_model_that_sums_a_known_region_gives_the_hand_computed_curve():
    # logit = the sum of the input over the left 2 columns of a 1 x 4 x 4 input of ones: 8 at the start
    x = torch.ones(1, 1, 4, 4)

    def score(batch):
        return batch[:, 0, :, :2].sum(dim=(1, 2))

    relevance = np.zeros((4, 4))
    relevance[:, :2] = np.arange(8).reshape(4, 2) + 1  # the region's 8 pixels first, all distinct
    curve = perturbation_curve(score, x, relevance, torch.zeros_like(x), steps=4)
    assert curve.tolist() == [8, 4, 0, 0, 0]  # 4 pixels a step: the region is gone after two
    assert curve_area(curve) == pytest.approx((8 + 4) / 2 * 0.25 + (4 + 0) / 2 * 0.25)
    worst = perturbation_curve(score, x, -relevance, torch.zeros_like(x), steps=4)  # the region last
    assert worst.tolist() == [8, 8, 8, 4, 0]


def test_insertion_and_a_flat_map_in_random_order():
    x = torch.ones(1, 1, 4, 4)

    def score(batch):
        return batch[:, 0].sum(dim=(1, 2))

    flat = np.zeros((4, 4))
    assert sorted(pixel_order(flat, seed=1).tolist()) == list(range(16))
    assert pixel_order(flat, seed=1).tolist() != pixel_order(flat, seed=2).tolist()  # ties: random, seeded
    # deleting all 16 pixels of a sum in 4 steps falls linearly whatever the order: area 8
    scores = faithfulness_scores(score, x, flat, torch.zeros_like(x), steps=4)
    assert scores["deletion"] == pytest.approx(8.0)
    assert scores["insertion"] == pytest.approx(16.0)  # the blurred ones are ones


def test_a_flat_photo_size_map_stays_flat_on_the_metric_grid():
    region = np.zeros((1944, 2896), bool)
    region[800:1100, 1300:1700] = True
    scores = localisation_scores(np.ones(region.shape, np.float32), region)
    assert scores["auc"] == 0.5 and scores["pointing-game"] == pytest.approx(scores["accuracy"], abs=2e-3)
