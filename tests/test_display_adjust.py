"""Brightness, contrast, gamma and the red-free view (core.display_adjust): known answers (#20 item 13)."""

import numpy as np

from fundus_viewer.core.display_adjust import AdjustedPyramid, DisplaySettings, adjust, lookup_table
from fundus_viewer.core.pyramid import ImagePyramid


def _photo(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # a red channel unlike the green, so a red-free view is not the photo by accident
    return rgb


def test_identity_settings_return_the_input_unchanged():
    rgb = _photo()
    assert np.array_equal(adjust(rgb), rgb)
    assert np.array_equal(lookup_table(), np.arange(256))


def test_gamma_two_lifts_64_to_the_hand_computed_128():
    # 255 * (64 / 255) ** (1 / 2) = 127.75 -> 128
    assert lookup_table(gamma=2.0)[64] == 128
    assert (adjust(np.full((2, 2, 3), 64, np.uint8), gamma=2.0) == 128).all()
    assert (adjust(np.full((2, 2, 3), 64, np.uint8), gamma=0.5) == 16).all()  # 255 * (64/255)**2 = 16.06


def test_brightness_adds_and_contrast_stretches_about_mid_grey_then_clips():
    assert lookup_table(brightness=0.2)[100] == 151  # 100 + 0.2 * 255
    assert lookup_table(brightness=0.2)[250] == 255
    table = lookup_table(contrast=2.0)
    assert abs(int(table[128]) - 128) <= 1 and table[192] == 255 and table[64] == 0


def test_red_free_shows_the_green_channel_as_grey():
    rgb = _photo()
    shown = adjust(rgb, red_free=True)
    assert shown.shape == rgb.shape and shown.dtype == np.uint8
    for channel in range(3):
        assert np.array_equal(shown[..., channel], rgb[..., 1])
    brighter = adjust(rgb, gamma=2.0, red_free=True)  # the tones apply to that grey
    assert np.array_equal(brighter[..., 0], lookup_table(gamma=2.0)[rgb[..., 1]])


def test_clahe_enhances_the_red_free_grey_and_panning_does_not_change_it():
    rgb = np.zeros((1400, 1800, 3), np.uint8)
    rgb[..., 1] = np.linspace(90, 110, 1800, dtype=np.uint8)[None, :]  # a faint ramp: little contrast
    rgb[..., 0] = 180
    enhanced = adjust(rgb, red_free=True, clahe=True)
    assert np.array_equal(enhanced[..., 0], enhanced[..., 2])
    assert np.ptp(enhanced[..., 1]) > np.ptp(rgb[..., 1])  # the contrast was stretched
    pyramid = ImagePyramid(rgb)
    adjusted = AdjustedPyramid(pyramid, DisplaySettings(red_free=True, clahe=True))
    region = (333.0, 250.0, 1207.5, 911.0)
    for level in range(len(pyramid.levels)):
        tile, covered = adjusted.crop(level, region)
        (rows, cols), same = pyramid.window(level, region)
        whole = adjust(pyramid.levels[level], red_free=True, clahe=True)  # the CLAHE of the whole level
        assert covered == same and np.array_equal(tile, whole[rows, cols])


def test_settings_are_the_identity_only_in_colour_with_no_tone_change():
    assert DisplaySettings().identity
    assert not DisplaySettings(red_free=True).identity
    assert not DisplaySettings(gamma=1.2).identity
