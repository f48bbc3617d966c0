"""The edge of the analysed region (#20 item 5): a map fades out there and the region is outlined faintly,
in the window and in exported overlays, instead of ending in a hard-edged square read as a finding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from main_windows import make_window
from PIL import Image

from fundus_viewer.core.analysed_region import EDGE_FADE, OUTLINE_ALPHA, edge_fade, fade_edges
from fundus_viewer.core.overlay import overlay


def test_fade_factors_by_hand():
    # a 100 px region, 4 % band = 4 px: pixel centres 0.5, 1.5, 2.5, 3.5 -> 0.125 ... 0.875, then 1
    assert EDGE_FADE == 0.04
    fx, fy = edge_fade((50, 100), (0, 0, 100, 100), (0, 0, 100, 100))
    assert fx[:5] == pytest.approx([0.125, 0.375, 0.625, 0.875, 1.0])
    assert fx[-4:] == pytest.approx([0.875, 0.625, 0.375, 0.125])
    assert fx[4:-4] == pytest.approx(1.0)
    assert fy[:3] == pytest.approx([0.25, 0.75, 1.0])  # rows 2 px tall: centres at 1, 3, 5
    # a raster over more than the region: zero outside it
    fx, _ = edge_fade((10, 20), (-10, 0, 10, 10), (0, 0, 10, 10))
    assert fx[:10] == pytest.approx(0.0) and fx[10] > 0


def test_fade_edges_touches_only_the_band_and_keeps_the_dtype():
    values = np.full((40, 60), 200, np.uint8)
    fade_edges(values, (0, 0, 60, 40), (0, 0, 60, 40))  # band 1.6 px
    assert values.dtype == np.uint8
    assert values[0, 30] == int(200 * 0.5 / 1.6) and values[20, 0] == int(200 * 0.5 / 1.6)
    assert (values[2:-2, 2:-2] == 200).all()


def test_overlay_outlines_the_region_and_draws_nothing_outside_it():
    rgb = np.full((200, 300, 3), 100, np.uint8)
    heat = np.zeros((200, 300), np.float32)
    heat[50:150, 100:200] = 1.0  # heat up to the region's edge, as a network's map often has
    extent = (100, 50, 200, 150)
    out = overlay(rgb, heat, extent=extent)
    plain = overlay(rgb, heat)
    outside = np.ones((200, 300), bool)
    outside[50:150, 100:200] = False
    assert (out[outside] == 100).all()  # not tinted, not outlined
    # the outline: the photo 35 % of the way to white where no heat is left at the very edge's alpha
    assert OUTLINE_ALPHA == 0.35
    assert abs(int(out[50, 150, 0]) - int(plain[50, 150, 0])) > 10  # the edge row is not the plain overlay
    assert (out[100, 150] == plain[100, 150]).all()  # the inside is the overlay as it was
    # the faded edge is closer to the photo than the cut-off map was
    column = 101  # inside the outline's 1 px, in the fade band
    assert np.abs(out[100, column].astype(int) - 100).sum() < np.abs(plain[100, column].astype(int) - 100).sum()


def test_outline_on_a_cold_region_is_the_hand_computed_blend():
    rgb = np.full((100, 100, 3), 100, np.uint8)
    out = overlay(rgb, np.zeros((100, 100), np.float32), extent=(20, 20, 80, 80))
    assert (out[20, 50] == round(100 * 0.65 + 255 * 0.35)).all()  # 154
    assert (out[50, 50] == 100).all() and (out[10, 50] == 100).all()
    # a region that is the whole photo has no outline
    assert (overlay(rgb, np.zeros((100, 100), np.float32), extent=(0, 0, 100, 100)) == 100).all()


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_the_window_fades_the_maps_edge_and_outlines_the_region(qtbot, tiny_checkpoint, tmp_path, make_fundus):
    photo = tmp_path / "eye.png"
    Image.fromarray(make_fundus()).save(photo)
    window = make_window(qtbot, tiny_checkpoint)
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        assert window.open_photo(photo)
    view = window.view
    values, region = view.shown_heat
    x0, y0, x1, y1 = view.heat_map.extent
    assert region == (x0, y0, x1, y1)  # fitted: the heat image covers the region and nothing outside it
    assert (x1 - x0, y1 - y0) < (view.pyramid.width, view.pyramid.height)
    rect = view.analysed.rect()
    assert view.analysed.isVisible() and (rect.left(), rect.top(), rect.right(), rect.bottom()) == (x0, y0, x1, y1)
    shown = view.heat.image
    assert shown.ndim == 3 and shown.shape[2] == 4  # RGBA: the alpha fades, not the colour
    lut_alpha = view._lut[cv2.convertScaleAbs(values, alpha=255.0)][..., 3]  # the colour table's own alpha
    centre = (shown.shape[0] // 2, shown.shape[1] // 2)
    assert shown[centre][3] == lut_alpha[centre]
    assert (shown[:, 0, 3] <= lut_alpha[:, 0] * 0.5 + 1).all() and (shown[0, :, 3] <= lut_alpha[0, :] * 0.5 + 1).all()
    window.close()
