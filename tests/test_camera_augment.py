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
    assert out.shape == flat.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
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
    assert (
        0 < out[10, 31, 0] < 200 and out[10, 0, 0] == 0 and abs(out[10, 63, 0] - 200) < 1e-3
    )  # spread at the edge only


def test_the_training_set_applies_them_only_when_asked():
    from trainer.classifier_data import AugmentedCrops

    context = np.full((100, 100, 3), 120, np.uint8)
    plain = AugmentedCrops([context], [1], 64, 80, seed=0, rotate=False)
    camera = AugmentedCrops([context], [1], 64, 80, seed=0, rotate=False, camera=True)
    a, b = plain[0][0].numpy(), camera[0][0].numpy()
    assert a.shape == b.shape == (3, 64, 64) and not np.allclose(a, b)
    assert np.allclose(plain[0][0].numpy(), a)  # the same sample and epoch draw the same crop


def test_zoomed_out_crops_of_a_full_photo_see_photo_not_the_edge_of_the_cache(tmp_path, make_fundus):
    """A scale below 1 / 1.1 reaches past the cached context unless ``load_context`` is given more:
    the crop would then show black corners that no photo in use has."""
    from PIL import Image

    from fundus_viewer.core.models.classifier import ClassifierSpec
    from trainer.classifier_data import AugmentedCrops, context_for, load_context
    from trainer.sources import Sample

    rgb = make_fundus(height=900, width=900, centre=(450, 450), radius=440, spot=(450, 450), spot_radius=40)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    spec = ClassifierSpec(input_size=64, resize=80, crop="disc", disc_diameters=1.75)
    sample = Sample(path, 0, "toy", "train")
    scales = (0.6, 0.6)

    def black_share(zoom_out):
        context, _ = load_context(sample, spec, zoom_out=zoom_out)
        crops = AugmentedCrops([context] * 8, [0] * 8, spec.input_size, spec.resize, seed=0, scale_range=scales)
        return np.mean([(crops[i][0].sum(dim=0) < 0.02).float().mean().item() for i in range(8)])

    assert context_for(scales) > 1.5 and context_for((0.95, 1.05)) == 1.0
    assert black_share(1.0) > 0.005  # the bug: corners beyond the cache
    assert black_share(context_for(scales)) == 0.0
