"""Eq. 2 against hand-computed values."""

import pytest
import torch

from fundus_viewer.core.visualization.selection import centroid_moment_of_inertia, l1_norms


def cmi(rows):
    return float(centroid_moment_of_inertia(torch.tensor(rows, dtype=torch.float32)[None])[0])


def test_single_point_has_zero_moment():
    assert cmi([[0, 0, 0], [0, 5, 0], [0, 0, 0]]) == 0.0


def test_two_masses_about_their_centroid():
    # unit masses at (0,0) and (0,2): centroid (0,1), each at distance^2 1 -> J = 2
    assert cmi([[1, 0, 1], [0, 0, 0], [0, 0, 0]]) == pytest.approx(2.0)


def test_uneven_masses_use_the_weighted_centroid():
    # mass 3 at (0,0) and mass 1 at (0,4): centroid j = 1; J = 3*1^2 + 1*3^2 = 12
    assert cmi([[3, 0, 0, 0, 1]]) == pytest.approx(12.0)


def test_square_block_and_brightness_scaling():
    # 2x2 block of ones: centroid (0.5, 0.5), each pixel at 0.25 + 0.25 -> J = 4 * 0.5 = 2
    block = [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    assert cmi(block) == pytest.approx(2.0)
    assert cmi([[3 * v for v in row] for row in block]) == pytest.approx(6.0)  # J carries brightness


def test_cmi_ignores_translation_and_empty_maps():
    assert cmi([[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]]) == pytest.approx(2.0)
    assert cmi([[0, 0], [0, 0]]) == 0.0


def test_batched_shapes_and_l1():
    maps = torch.rand(2, 5, 7, 6)
    assert centroid_moment_of_inertia(maps).shape == (2, 5)
    assert torch.allclose(l1_norms(maps), maps.abs().sum(dim=(-2, -1)))
