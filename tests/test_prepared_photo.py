"""One prepared photo for every consumer, maps kept on their grid, drawn at the view's resolution,
exported with a sidecar: the disc is located once, the exported map is the scored map, the drawn map
is the full map resampled."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from fundus_viewer.core.transform import InputTransform


@pytest.fixture(scope="module")
def disc_alexnet():
    """The paper's architecture at 1/8 width looking at a disc-centred crop, seeded random weights."""
    import torch

    from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier

    torch.manual_seed(0)
    spec = ClassifierSpec(arch="alexnet", input_size=227, crop="disc", arch_options={"width": 0.125, "hidden": 32})
    return GlaucomaClassifier(spec).eval().requires_grad_(False)


@pytest.fixture
def count_disc_location(monkeypatch):
    """Counts every optic disc location, through the prepared photo or around it."""
    import fundus_viewer.core.disc as disc
    import fundus_viewer.core.photo as photo

    calls = []
    original = disc.locate_optic_disc

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(disc, "locate_optic_disc", counting)
    monkeypatch.setattr(photo, "locate_optic_disc", counting)
    return calls


def fundus_with_disc(make_fundus):
    return make_fundus(height=420, width=600, spot=(330, 200), spot_radius=18)


def test_the_disc_is_located_once_for_classifier_cup_disc_and_baselines(disc_alexnet, make_fundus, count_disc_location):
    from fundus_viewer.core.cup_disc import CupDiscSegmenter, CupDiscSpec, measure_cup_disc
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.visualization.baselines import compute_baselines
    from fundus_viewer.core.visualization.maps import build_maps
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    photo = prepare_photo(fundus_with_disc(make_fundus))
    visualizer = PathologyVisualizer(disc_alexnet)
    analysis = visualizer.analyze(photo)
    compute_baselines(visualizer, photo, ("cam", "gbp"))
    measure_cup_disc(CupDiscSegmenter(CupDiscSpec(base=4, depth=2, input_size=64, resize=72)), photo)
    build_maps(visualizer, photo, ("pathology", "occlusion"), analysis=analysis)
    assert analysis.image is photo and photo.disc.located
    assert len(count_disc_location) == 1


def test_a_photo_given_as_an_array_each_time_is_located_each_time(disc_alexnet, make_fundus, count_disc_location):
    """The guard can fail: without a shared prepared photo every consumer locates the disc again."""
    from fundus_viewer.core.visualization.baselines import compute_baselines
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    rgb = fundus_with_disc(make_fundus)
    visualizer = PathologyVisualizer(disc_alexnet)
    visualizer.analyze(rgb)
    compute_baselines(visualizer, rgb, ("cam",))
    assert len(count_disc_location) == 2


@pytest.mark.parametrize(
    "transform",
    [
        InputTransform(height=420, width=600, left=60, top=40, side=380, resize=227, crop=227),  # fov square
        InputTransform(height=420, width=600, left=250, top=-30, side=180, resize=280, crop=227),  # disc, off the top
        InputTransform(height=2336, width=3504, left=300, top=-290, side=2900, resize=227, crop=227),  # a camera photo
    ],
)
def test_the_peak_found_on_the_grid_is_the_full_maps_peak(transform):
    rng = np.random.default_rng(1)
    for shape in ((13, 13), (27, 27), (227, 227)):
        grid = rng.normal(size=shape).astype(np.float32)
        full = transform.to_original(grid)
        # within cv2.resize's float rounding; warpAffine (resize != crop) quantises positions to 1/32 px
        tolerance = 1e-5 if transform.resize == transform.crop else 0.02 * float(np.abs(grid).max())
        assert transform.peak(grid) == pytest.approx(float(full.max()), abs=tolerance)
    assert transform.peak(-np.ones((13, 13), np.float32)) == 0.0


def test_the_drawn_map_is_the_full_map_resampled(tiny_alexnet, make_fundus):
    """Tolerance: 0.01 of the peak at the photo's own resolution (OpenCV's warp places samples to 1/32 of
    a grid cell; cv2.resize does not), 0.02 where the view shows a region at another resolution."""
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    rgb = make_fundus()
    heat = PathologyVisualizer(tiny_alexnet).analyze(rgb).heatmaps(0.0, 0.3, 0.7)
    for grid_map in heat.maps.values():
        full = grid_map.full()
        assert grid_map.peak == pytest.approx(float(grid_map.transform.to_original(grid_map.grid).max()), rel=1e-5)
        native = grid_map.render((0, 0, 600, 420), (600, 420))
        assert np.abs(native - full).max() <= 0.01
        # a zoomed view: photo x 100..300, y 50..250 on 700 x 700 screen pixels; and a fitted one, 150 x 105
        for region, size in (((100, 50, 300, 250), (700, 700)), ((0, 0, 600, 420), (150, 105))):
            drawn = grid_map.render(region, size)
            (x0, y0, x1, y1), (w, h) = region, size
            xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w - 0.5  # output pixel centres in photo pixel indices
            ys = y0 + (np.arange(h) + 0.5) * (y1 - y0) / h - 0.5
            map_x, map_y = np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))
            resampled = cv2.remap(full, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            sx0, sy0, sx1, sy1 = grid_map.extent  # the full map drops to 0 at its edge: compare within it
            inside = (map_x > sx0 + 1) & (map_x < sx1 - 2) & (map_y > sy0 + 1) & (map_y < sy1 - 2)
            assert np.abs(drawn - resampled)[inside].max() <= 0.02
            assert drawn.shape == (h, w) and drawn.min() >= 0 and drawn.max() <= 1


def test_the_exported_map_is_the_scored_map_pixel_for_pixel(tiny_checkpoint, make_fundus, tmp_path, monkeypatch):
    import fundus_viewer.core.evaluation as evaluation
    from fundus_viewer.cli.main import main
    from fundus_viewer.core.boxes import ImageBoxes
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(make_fundus()).save(photos / "eye.png")
    assert (
        main(
            [
                "heatmap",
                str(photos / "eye.png"),
                "--out",
                str(tmp_path / "maps"),
                "--methods",
                "pathology,cam",
                "--model",
                str(tiny_checkpoint),
                "--device",
                "cpu",
            ]
        )
        == 0
    )

    scored = []
    real = evaluation.localisation_scores
    monkeypatch.setattr(
        evaluation,
        "localisation_scores",
        lambda heat, region, metrics: scored.append(heat) or real(heat, region, metrics),
    )
    entry = ImageBoxes("eye.png", 600, 420, {"RL": [(100, 100, 200, 150)], "RNFLD": [(300, 200, 100, 100)]})
    visualizer = PathologyVisualizer(load_classifier(tiny_checkpoint))
    result = evaluation.evaluate_localization(visualizer, photos, {"eye.png": entry}, ("pathology", "cam"))
    assert not result.failures and len(scored) == 8  # RL and RNFLD boxes, each scoring two maps and the two flat ones
    rl, cam_rl, flat, seen, rnfld, cam_rnfld, _, _ = scored
    assert np.all(flat == 1) and 0 < seen.mean() < 1 and set(np.unique(seen)) == {0.0, 1.0}
    assert np.array_equal(np.load(tmp_path / "maps" / "eye.pathology-rl.npy"), rl)
    assert np.array_equal(np.load(tmp_path / "maps" / "eye.pathology-rnfld.npy"), rnfld)
    assert np.array_equal(np.load(tmp_path / "maps" / "eye.cam.npy"), cam_rl) and np.array_equal(cam_rl, cam_rnfld)


def test_the_sidecar_round_trips(tiny_alexnet, tiny_checkpoint, make_fundus, tmp_path):
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.visualization.maps import build_maps, read_sidecar, write_maps
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer
    from fundus_viewer.core.visualization.selection import Thresholds

    path = tmp_path / "eye.png"
    Image.fromarray(make_fundus()).save(path)
    model = load_classifier(tiny_checkpoint)
    visualizer = PathologyVisualizer(model, layers=["network.features.relu4", "network.features.relu5"])
    thresholds = Thresholds(0.2, 0.15, 0.85, "max")
    maps = build_maps(visualizer, prepare_photo(path), ("pathology", "gbp"), thresholds)
    written = write_maps(maps, tmp_path, "viridis")
    record = read_sidecar(tmp_path / "eye.maps.json")
    assert record["thresholds"] == thresholds
    assert (
        record["model"]["layers"] == ["network.features.relu4", "network.features.relu5"]
        and record["model"]["arch"] == "alexnet"
    )
    assert record["model"]["checkpoint"] == str(tiny_checkpoint) and len(record["model"]["sha256"]) == 64
    assert record["photo"] == {"name": "eye.png", "path": str(path), "width": 600, "height": 420}
    assert record["probability_glaucoma"] == pytest.approx(maps.analysis.probability, abs=1e-6)
    assert record["colormap"] == "viridis" and set(record["maps"]) == {"pathology-rl", "pathology-rnfld", "gbp"}
    assert sorted(tmp_path / m["file"] for m in record["maps"].values()) == sorted(written)
    for name, entry in record["maps"].items():
        assert np.array_equal(np.load(tmp_path / entry["file"]), maps.full(name))
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(ValueError, match="sidecar format"):
        (tmp_path / "old.maps.json").write_text(
            json.dumps({**json.loads((tmp_path / "eye.maps.json").read_text()), "format": 99})
        )
        read_sidecar(tmp_path / "old.maps.json")


def test_a_failed_export_leaves_no_partial_file(tiny_alexnet, make_fundus, tmp_path, monkeypatch):
    import fundus_viewer.core.visualization.maps as maps_module
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    maps = maps_module.build_maps(PathologyVisualizer(tiny_alexnet), make_fundus())
    real_save, saves = np.save, []

    def full_on_the_second_map(stream, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:
            stream.write(b"half a map")
            raise OSError(28, "No space left on device")
        return real_save(stream, *args, **kwargs)

    monkeypatch.setattr(maps_module.np, "save", full_on_the_second_map)
    with pytest.raises(OSError, match="No space"):
        maps_module.write_maps(maps, tmp_path, stem="eye")
    # the first map is whole, the second is not there at all, and no sidecar claims both
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eye.pathology-rl.npy", "eye.pathology-rl.png"]
    assert np.array_equal(np.load(tmp_path / "eye.pathology-rl.npy"), maps.full("pathology-rl"))


def test_the_pyramid_picks_the_level_with_a_pixel_per_screen_pixel():
    from fundus_viewer.core.pyramid import ImagePyramid

    rgb = np.zeros((3000, 4000, 3), np.uint8)
    rgb[1000:2000, 1000:3000] = 200
    pyramid = ImagePyramid(rgb)
    assert [level.shape[:2] for level in pyramid.levels] == [(3000, 4000), (1500, 2000), (750, 1000), (375, 500)]
    assert [pyramid.level_for(p) for p in (0.5, 1.0, 1.9, 2.0, 4.0, 7.9, 8.0, 100)] == [0, 0, 0, 1, 2, 2, 3, 3]
    tile, covered = pyramid.crop(2, (1003, 998.5, 2999, 2001))
    assert covered == (1000.0, 996.0, 3000.0, 2004.0) and tile.shape == (252, 500, 3)
    assert tile[1:-1].min() == 200  # area-averaged, the bright block stays 200 inside
