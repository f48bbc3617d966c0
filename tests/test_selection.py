"""Eq. 1 and the CMI split on a hand-made stack."""

import pytest
import torch

from fundus_viewer.core.visualization.selection import Thresholds, normalized_cmi, select_maps


def stack():
    # L1 norms 10, 0.5, 5, 8, 2 ; CMI 100, 1, 3, 95, 50
    l1 = torch.tensor([[10.0, 0.5, 5.0, 8.0, 2.0]])
    cmi = torch.tensor([[100.0, 1.0, 3.0, 95.0, 50.0]])
    return l1, cmi


def test_activation_threshold_is_relative_to_the_layer_max():
    l1, cmi = stack()
    active, _, _ = select_maps(l1, cmi, Thresholds(theta_act=0.1))
    assert active.tolist() == [[True, False, True, True, True]]  # 0.5 <= 0.1 * 10
    active, _, _ = select_maps(l1, cmi, Thresholds(theta_act=0.6))
    assert active.tolist() == [[True, False, False, True, False]]  # > 6


def test_max_normalised_cmi_split():
    l1, cmi = stack()
    active, high, low = select_maps(l1, cmi, Thresholds(0.1, 0.1, 0.9, "max"))
    # normalised CMI = 1.0, 0.01, 0.03, 0.95, 0.5
    assert high.tolist() == [[True, False, False, True, False]]
    assert low.tolist() == [[False, False, True, False, False]]  # map 1 is low but inactive


def test_rank_normalised_cmi_split():
    l1, cmi = stack()
    active = torch.tensor([[True, False, True, True, True]])
    # among active maps CMI 100, 3, 95, 50 rank 3, 0, 2, 1 -> /3
    expected = torch.tensor([[1.0, 0.0, 0.0, 2 / 3, 1 / 3]])
    assert torch.allclose(normalized_cmi(cmi, active, "rank"), expected)
    _, high, low = select_maps(l1, cmi, Thresholds(0.1, 0.2, 0.8, "rank"))
    assert high.tolist() == [[True, False, False, False, False]]
    assert low.tolist() == [[False, False, True, False, False]]


def test_sets_are_disjoint_and_inside_the_active_set():
    torch.manual_seed(1)
    l1, cmi = torch.rand(3, 64), torch.rand(3, 64)
    for norm in ("max", "rank"):
        active, high, low = select_maps(l1, cmi, Thresholds(0.3, 0.4, 0.6, norm))
        assert not (high & low).any()
        assert not (high & ~active).any() and not (low & ~active).any()


@pytest.mark.parametrize(
    "kwargs",
    [dict(theta_act=-0.1), dict(theta_act=1.5), dict(cmi_low=0.8, cmi_high=0.2), dict(normalization="median")],
)
def test_bad_thresholds_are_refused(kwargs):
    with pytest.raises(ValueError):
        Thresholds(**kwargs)
