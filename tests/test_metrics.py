"""Localisation accuracy with known answers."""

import math

import numpy as np
import pytest

from fundus_viewer.core.metrics import boxes_mask, localization_accuracy, mean_std, uniform_accuracy


def heat_in(shape, y0, y1, x0, x1, value=1.0):
    heat = np.zeros(shape, np.float32)
    heat[y0:y1, x0:x1] = value
    return heat


def test_all_heat_inside_the_box_is_one():
    heat = heat_in((100, 150), 20, 40, 30, 60)
    assert localization_accuracy(heat, [(30, 20, 30, 20)]) == 1.0


def test_all_heat_outside_is_zero():
    heat = heat_in((100, 150), 70, 90, 100, 140)
    assert localization_accuracy(heat, [(30, 20, 30, 20)]) == 0.0


def test_half_inside_and_overlapping_boxes_count_once():
    heat = heat_in((100, 100), 0, 10, 0, 20)  # 200 hot pixels
    assert localization_accuracy(heat, [(0, 0, 10, 10)]) == pytest.approx(0.5)
    assert localization_accuracy(heat, [(0, 0, 10, 10), (5, 0, 5, 10)]) == pytest.approx(0.5)
    assert localization_accuracy(heat, [(0, 0, 10, 10), (10, 0, 10, 10)]) == pytest.approx(1.0)


def test_weighted_heat():
    heat = np.zeros((10, 10), np.float32)
    heat[2, 2] = 3.0
    heat[8, 8] = 1.0
    assert localization_accuracy(heat, [(0, 0, 5, 5)]) == pytest.approx(0.75)


def test_pixel_centres_decide_membership():
    mask = boxes_mask((10, 10), [(1.4, 1.6, 2.0, 2.0)])  # x in [1.4, 3.4), y in [1.6, 3.6)
    assert mask[2, 1] and mask[2, 2] and not mask[1, 1] and not mask[2, 3]
    assert mask.sum() == 4  # rows 2,3 (centres 2.5, 3.5 in [1.6, 3.6)), columns 1,2


def test_no_heat_is_nan_and_negative_heat_is_refused():
    assert math.isnan(localization_accuracy(np.zeros((5, 5)), [(0, 0, 2, 2)]))
    with pytest.raises(ValueError):
        localization_accuracy(-np.ones((5, 5)), [(0, 0, 2, 2)])


def test_uniform_map_scores_the_box_share():
    assert uniform_accuracy((100, 100), [(0, 0, 50, 20)]) == pytest.approx(0.1)
    assert localization_accuracy(np.ones((100, 100)), [(0, 0, 50, 20)]) == pytest.approx(0.1)


def test_mean_std_skips_nan():
    mean, std, n = mean_std([0.2, 0.4, float("nan")])
    assert (mean, n) == (pytest.approx(0.3), 2) and std == pytest.approx(np.std([0.2, 0.4], ddof=1))


def test_region_accuracy_on_a_rim_by_hand():
    import numpy as np
    import pytest

    from fundus_viewer.core.metrics import region_accuracy

    yy, xx = np.mgrid[0:21, 0:21]
    radius = np.hypot(yy - 10, xx - 10)
    rim = (radius <= 8) & ~(radius <= 4)  # disc and not cup
    heat = np.zeros((21, 21))
    heat[rim] = 1.0
    assert region_accuracy(heat, rim) == 1.0
    heat[10, 10] = heat[rim].sum()  # as much heat again, at the cup's centre
    assert region_accuracy(heat, rim) == pytest.approx(0.5)
    assert np.isnan(region_accuracy(np.zeros((21, 21)), rim))
    with pytest.raises(ValueError, match="the region is 20 x 21"):
        region_accuracy(heat, rim[:, :20])
