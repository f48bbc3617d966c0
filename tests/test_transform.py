"""Heat maps come back on the ORIGINAL pixel grid of off-centre, non-square photos."""

import numpy as np
import pytest

from fundus_viewer.core.fov import find_field_of_view
from fundus_viewer.core.transform import InputTransform
from fundus_viewer.core.visualization.pathology import PathologyVisualizer


def test_field_of_view_box_of_an_off_centre_circle(make_fundus):
    rgb = make_fundus(height=420, width=600, centre=(250, 230), radius=190)
    x0, y0, x1, y1 = find_field_of_view(rgb)
    assert abs(x0 - 60) <= 3 and abs(x1 - 441) <= 3
    assert abs(y0 - 40) <= 3 and abs(y1 - 420) <= 3  # the circle runs off the bottom edge


def test_no_surround_means_the_whole_photo():
    rgb = np.full((300, 280, 3), 120, np.uint8)
    rgb[100:120, 50:60] = 200
    assert find_field_of_view(rgb) == (0, 0, 280, 300)


@pytest.mark.parametrize("resize", [None, 200])
def test_points_round_trip(make_fundus, resize):
    transform = InputTransform.for_image(make_fundus(), 160, resize)
    xy = np.array([[10.0, 20.0], [333.3, 401.5], [599.0, 0.0]])
    assert np.allclose(transform.original_points(transform.input_points(xy)), xy)


@pytest.mark.parametrize("resize", [None, 200])
def test_grid_peak_lands_on_the_original_pixel(make_fundus, resize):
    rgb = make_fundus()
    transform = InputTransform.for_image(rgb, 160, resize)
    target = np.array([301.0, 177.0])  # original (x, y)
    u, v = transform.input_points(target)
    grid = np.zeros((160, 160), np.float32)
    grid[int(round(v)), int(round(u))] = 1.0
    back = transform.to_original(grid)
    assert back.shape == rgb.shape[:2]
    y, x = np.unravel_index(np.argmax(back), back.shape)
    pixels_per_cell = 1 / transform.scale
    assert abs(x - target[0]) <= pixels_per_cell and abs(y - target[1]) <= pixels_per_cell


def test_to_input_puts_the_photo_where_the_transform_says(make_fundus):
    rgb = make_fundus(spot=(300, 180), spot_radius=20)
    transform = InputTransform.for_image(rgb, 160)
    pixels = transform.to_input(rgb)
    assert pixels.shape == (160, 160, 3)
    u, v = transform.input_points(np.array([300.0, 180.0]))
    assert pixels[int(round(v)), int(round(u))].min() > 240  # the white spot


def test_heat_outside_what_the_model_saw_is_zero(make_fundus):
    rgb = make_fundus(height=300, width=700, centre=(350, 150), radius=140)
    transform = InputTransform.for_image(rgb, 64)
    back = transform.to_original(np.ones((8, 8), np.float32))
    x0, y0, x1, y1 = transform.seen_region
    assert back[:, :x0].max() == 0 and back[:, x1:].max() == 0
    assert back[y0:y1, x0:x1].min() > 0.99


@pytest.mark.parametrize("spot", [(190, 120), (320, 330)])
def test_planted_spot_is_found_end_to_end(spot_model, make_fundus, spot):
    """A bright spot in an off-centre, non-square photo is where the network's evidence is; both maps'
    peaks come back at that spot in original pixels."""
    rgb = make_fundus(height=420, width=600, centre=(250, 230), radius=190, spot=spot, spot_radius=10)
    layer = "network.features.relu"
    analysis = PathologyVisualizer(spot_model, layers=[layer]).analyze(rgb)
    maps = analysis.heatmaps(theta_act=0.0, cmi_low=1.0, cmi_high=1.0)  # every map into the low set
    y, x = np.unravel_index(np.argmax(maps.rnfld), maps.rnfld.shape)
    assert abs(x - spot[0]) <= 4 and abs(y - spot[1]) <= 4
    maps = analysis.heatmaps(theta_act=0.0, cmi_low=0.0, cmi_high=0.0)  # every map into the high set
    y, x = np.unravel_index(np.argmax(maps.rl), maps.rl.shape)
    assert abs(x - spot[0]) <= 4 and abs(y - spot[1]) <= 4


def test_the_classifier_the_gan_and_a_study_cut_one_square_from_one_field_of_view():
    """FieldOfView.square() (the GAN's and a study's square) rounded (x0 + x1 - side) // 2, the classifier's
    input square x0 + (x1 - x0) // 2 - side // 2: for a field of even width and odd height they lay a
    pixel apart."""
    from fundus_viewer.core.fov import analyse_field_of_view
    from fundus_viewer.core.transform import padded_square

    rgb = np.zeros((300, 500, 3), np.uint8)
    rgb[20:271, 101:341] = 200  # a bright field 240 wide (even) and 251 high (odd) on black
    fov = analyse_field_of_view(rgb)
    t = InputTransform.for_image(rgb, 64, crop="fov", fov=fov)
    assert fov.square() == (t.left, t.top, t.side)
    whole = InputTransform.for_image(np.zeros((4, 7, 3), np.uint8), 8, crop="none")  # 4 high, 7 wide
    assert padded_square(4, 7) == (whole.left, whole.top, whole.side) == (0, -2, 7)  # the classifier's was -1
