"""Table 1 with a test: the per-method summary and the paired comparison of ours against each baseline,
on scores whose answers are known (empty maps are counted and left out of their pairs)."""

from __future__ import annotations

import math

import pytest

from trainer.disc_evidence import paired_tests, summarise


def test_summary_and_paired_tests_by_hand():
    nan = math.nan
    shares = {"pathology-rl": [0.50, 0.60, nan, 0.70, 0.40], "cam": [0.10, 0.20, 0.30, nan, 0.30]}
    chance = [0.1, 0.1, 0.1, 0.1, 0.2]
    summary = summarise(shares, chance)
    assert summary["pathology-rl"]["heat_in_box_percent"] == pytest.approx(55.0)
    assert summary["pathology-rl"]["photos_without_heat"] == 1 and summary["cam"]["photos_without_heat"] == 1
    assert summary["cam"]["ratio_to_box_share"] == pytest.approx(0.225 / 0.12)
    # pairs: photos 0, 1 and 4 (both maps have heat); differences 0.4, 0.4, 0.1
    [(name, test)] = paired_tests(shares, "pathology-rl").items()
    assert name == "cam" and test["n_pairs"] == 3 and test["mean_difference"] == pytest.approx(0.3)
    assert 0 < test["t_p"] < 1 and 0 < test["wilcoxon_p"] <= 1
    assert paired_tests({"pathology-rl": [nan, 0.5], "cam": [0.1, nan]}, "pathology-rl") == {}  # no pair to test
