"""The optic-disc locator on synthetic photos with a known disc."""

import numpy as np

from fundus_viewer.core.disc import disc_square, locate_optic_disc
from fundus_viewer.core.transform import InputTransform


def test_a_bright_disc_is_found_with_its_size(make_fundus):
    rgb = make_fundus(height=500, width=700, centre=(350, 250), radius=240)
    yy, xx = np.mgrid[0:500, 0:700]
    disc = (xx - 470) ** 2 + (yy - 230) ** 2 <= 35**2
    rgb[disc] = [235, 200, 120]
    found = locate_optic_disc(rgb)
    assert found.located
    assert abs(found.x - 470) < 12 and abs(found.y - 230) < 12  # within a third of the radius
    assert 20 < found.radius < 60


def test_a_photo_without_surround_is_a_disc_crop_used_whole():
    rgb = np.full((300, 320, 3), [200, 120, 60], np.uint8)
    rgb[100:200, 110:210] = [240, 210, 150]
    found = locate_optic_disc(rgb)
    assert not found.located
    assert disc_square(rgb) == (0, -10, 320)


def test_disc_transform_maps_heat_back_around_the_disc(make_fundus):
    rgb = make_fundus(height=500, width=700, centre=(350, 250), radius=240)
    yy, xx = np.mgrid[0:500, 0:700]
    rgb[(xx - 470) ** 2 + (yy - 230) ** 2 <= 35**2] = [235, 200, 120]
    transform = InputTransform.for_image(rgb, 64, crop="disc")
    back = transform.to_original(np.ones((8, 8), np.float32))
    ys, xs = np.nonzero(back)
    assert abs(xs.mean() - 470) < 12 and abs(ys.mean() - 230) < 12
    assert back.mean() < 0.2  # heat only around the disc, not over the whole photo
