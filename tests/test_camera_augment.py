"""Training changes that imitate other cameras: each one does what it says on a photo whose answer is
known, the draw is the sample's own, and the training set applies them only when asked."""

from __future__ import annotations

import numpy as np

from trainer.camera_augment import camera_augment


class Always:
    """A generator that draws every change (random() < p) and the given values for its parameters."""

    def __init__(self, uniform, integers=60):
        self._uniform, self._integers = uniform, integers

    def random(self):
        return 0.0

    def uniform(self, low, high, size=None):
        value = self._uniform(low, high)
        return np.full(size, value, np.float32) if size is not None else value

    def integers(self, low, high):
        return self._integers


def test_each_change_on_a_flat_grey_photo():
    flat = np.full((64, 64, 3), 128.0, np.float32)
    out = camera_augment(flat, Always(lambda low, high: high))
    assert out.shape == flat.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 255
    # vignetting: the corners fall below the centre; the ramp (angle at its high end, 2 pi) makes the
    # right side brighter than the left
    assert out[0, 0].mean() < out[32, 32].mean() - 10
    assert out[32, 60].mean() > out[32, 4].mean() + 10
    untouched = camera_augment(flat, np.random.default_rng(0), p=0.0)
    assert np.array_equal(untouched, flat)  # p = 0: nothing changes


def test_the_draw_is_reproducible_and_defocus_softens_an_edge():
    rng = np.random.default_rng
    photo = np.zeros((64, 64, 3), np.float32)
    photo[:, 32:] = 200.0
    assert np.array_equal(camera_augment(photo, rng(3)), camera_augment(photo, rng(3)))
    assert not np.array_equal(camera_augment(photo, rng(3)), camera_augment(photo, rng(4)))

    class OnlyBlur(Always):  # the third draw is the defocus; the others are skipped
        draws = 0

        def random(self):
            self.draws += 1
            return 0.0 if self.draws == 3 else 1.0

    out = camera_augment(photo, OnlyBlur(lambda low, high: high))
    assert 0 < out[10, 31, 0] < 200 and out[10, 0, 0] == 0 and abs(out[10, 63, 0] - 200) < 1e-3  # spread at the edge only


def test_the_training_set_applies_them_only_when_asked():
    from trainer.classifier_data import AugmentedCrops

    context = np.full((100, 100, 3), 120, np.uint8)
    plain = AugmentedCrops([context], [1], 64, 80, seed=0, rotate=False)
    camera = AugmentedCrops([context], [1], 64, 80, seed=0, rotate=False, camera=True)
    a, b = plain[0][0].numpy(), camera[0][0].numpy()
    assert a.shape == b.shape == (3, 64, 64) and not np.allclose(a, b)
    assert np.allclose(plain[0][0].numpy(), a)  # the same sample and epoch draw the same crop
