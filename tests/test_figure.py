"""The exported figure (core.figure): the photo at its own size with the map blended as the overlays
are, a caption beneath whose font grows with the width, and the caption in the PNG's text chunks."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from fundus_viewer.core.figure import make_figure, write_figure
from fundus_viewer.core.photo import prepare_photo
from fundus_viewer.core.visualization.heat import GridMap
from fundus_viewer.core.visualization.maps import PhotoMaps
from fundus_viewer.core.visualization.selection import Thresholds

DIGEST = "0123456789abcdef" * 4


def photo_maps(tmp_path, rgb, name="eye.png"):
    """RL hot in the top-left corner of the analysed square only, CAM as a baseline."""
    Image.fromarray(rgb).save(tmp_path / name)
    photo = prepare_photo(tmp_path / name)
    transform = photo.transform(64, crop="fov")
    grid = np.zeros((8, 8), np.float32)
    grid[:2, :2] = 1.0
    maps = {"pathology-rl": GridMap(grid, transform), "cam": GridMap(grid[::-1].copy(), transform)}
    model = {"checkpoint": str(tmp_path / "tiny.safetensors"), "arch": "alexnet", "input_size": 64}
    return PhotoMaps(photo, maps, Thresholds(0.2, 0.15, 0.85, "max"), probability=0.8125, model=model)


def test_the_figure_is_the_photo_at_its_own_size_with_its_caption_in_the_png(tmp_path, make_fundus):
    maps = photo_maps(tmp_path, make_fundus())
    photo = maps.photo
    facts = {"call": "glaucoma", "call_threshold": 0.78, "vcdr": 0.62, "model_sha256": DIGEST}
    figure = make_figure(maps, ["pathology-rl"], "viridis", 0.5, **facts)
    height, width, _ = figure.pixels.shape
    assert width == photo.width == 600 and height > figure.top + photo.height
    part = figure.pixels[figure.top : figure.top + photo.height]
    x0, y0, x1, y1 = maps.maps["pathology-rl"].extent
    # zero heat (the lower right of the analysed square): the photo's own pixels, unchanged
    cold = (slice(y0 + (y1 - y0) * 3 // 4, y1 - 5), slice(x0 + (x1 - x0) * 3 // 4, x1 - 5))
    assert np.array_equal(part[cold], photo.rgb[cold])
    hot = (y0 + 5, x0 + 5)
    assert not np.array_equal(part[hot], photo.rgb[hot])
    path = write_figure(figure, tmp_path / "figure.png")
    with Image.open(path) as png:
        assert png.size == (width, height)
        text = png.text
        assert np.array_equal(np.asarray(png.convert("RGB")), figure.pixels)
    assert text["Title"] == "eye.png"
    description = text["Description"]
    for said in (
        "eye.png · 600 × 420 px",
        "P(glaucoma) 0.812 → glaucoma (call at P ≥ 0.78)",
        "vCDR 0.62",
        "Map: Rim loss (RL, high CMI)",
        "θ act 0.20 · θ CMI 0.15–0.85 · CMI scaled by max",
        "viridis at opacity 0.50",
        "Model tiny.safetensors (alexnet, 64 px) · sha256 0123456789ab",
        "Fundus Viewer",
    ):
        assert said in description
    assert description.splitlines() == figure.caption


def test_side_by_side_a_baseline_boxes_and_outlines(tmp_path, make_fundus):
    maps = photo_maps(tmp_path, make_fundus())
    photo = maps.photo
    both = make_figure(maps, ["pathology-rl", "cam"], call="normal", call_threshold=0.9)
    assert both.pixels.shape[1] == 2 * photo.width + max(4, photo.width // 100)
    assert "Maps: left Rim loss (RL, high CMI), right CAM (baseline)" in both.caption[1]
    assert "P(glaucoma) 0.812 → normal (call at P ≥ 0.90)" in both.caption[0]
    box, ring = (100, 80, 60, 40), np.array([[300, 150], [340, 150], [340, 190], [300, 190]])
    cam = make_figure(maps, ["cam"], boxes=[("RNFLD", box)], outlines={"disc": ring, "cup": None})
    assert "thresholds do not apply to a baseline" in cam.caption[1] and "θ" not in cam.caption[1]
    # only the disc was drawn: the caption names it alone, in the colour it was drawn in
    assert "boxes: 1 RNFLD" in cam.caption[1] and "optic disc (white) outline" in cam.caption[1]
    assert "cup" not in cam.caption[1]
    cup = ring // 2 + 100
    both_outlines = make_figure(maps, ["cam"], outlines={"cup": cup, "disc": ring})
    assert "optic disc (white) and cup (cyan) outlines" in both_outlines.caption[1]
    assert tuple(both_outlines.pixels[both_outlines.top + 175, 250]) == (0, 229, 255)  # the cup, cyan
    part = cam.pixels[cam.top :]
    assert tuple(part[100, 100]) == (157, 255, 0)  # the box's left edge in the window's RNFLD colour
    assert tuple(part[170, 300]) == (255, 255, 255)  # the disc outline, white
    bare = make_figure(maps)  # no map on screen: the photo, no colour bar, no map line
    assert bare.top == 0 and np.array_equal(bare.pixels[: photo.height], photo.rgb)
    assert bare.caption[1].startswith("no map")


def test_an_all_zero_map_says_it_found_no_evidence(tmp_path, make_fundus):
    maps = photo_maps(tmp_path, make_fundus())
    assert "no positive evidence" not in " ".join(make_figure(maps, ["pathology-rl", "cam"]).caption)
    maps.maps["cam"] = dataclasses.replace(maps.maps["cam"], grid=np.zeros((8, 8), np.float32))
    assert "no positive evidence on this photo" in make_figure(maps, ["cam"]).caption[1]
    both = make_figure(maps, ["pathology-rl", "cam"]).caption[1]
    assert "CAM (baseline): no positive evidence on this photo" in both and "Rim loss (RL, high CMI):" not in both
    maps.maps["pathology-rl"] = dataclasses.replace(maps.maps["pathology-rl"], grid=np.zeros((8, 8), np.float32))
    assert "no positive evidence at these thresholds" in make_figure(maps, ["pathology-rl"]).caption[1]


def test_the_caption_grows_with_the_photo(tmp_path, make_fundus):
    small = make_figure(photo_maps(tmp_path, make_fundus()), ["pathology-rl"])
    camera = np.zeros((2336, 3504, 3), np.uint8)
    camera[500:1800, 800:2700] = 120
    large = make_figure(photo_maps(tmp_path, camera, "camera.jpg"), ["pathology-rl"])
    assert large.pixels.shape[1] == 3504
    # the first caption row's ink, left of the colour bar: 39 px letters on 3504 px, 12 px on 600 px
    heights = [letter_height(f.pixels[f.top + h :, : f.pixels.shape[1] // 2]) for f, h in ((small, 420), (large, 2336))]
    assert heights[1] > 2.8 * heights[0] > 2.8 * 8


def test_heatmap_figure_gives_the_models_call_not_one_made_on_the_rounded_p(
    tiny_checkpoint, make_fundus, tmp_path, monkeypatch
):
    """P a hair below the threshold prints as the threshold (0.500 at 3 decimals, 0.5 at 6) but is
    called normal by the model, as the window and classify call it: the figure must say normal too."""
    from fundus_viewer.cli.main import main
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    threshold = load_classifier(tiny_checkpoint).calibration.threshold
    analyze = PathologyVisualizer.analyze

    def just_below(self, *args, **kwargs):
        analysis = analyze(self, *args, **kwargs)
        assert not self.model.calls_glaucoma(threshold - 4e-7)
        return dataclasses.replace(analysis, probability=threshold - 4e-7)

    monkeypatch.setattr(PathologyVisualizer, "analyze", just_below)
    Image.fromarray(make_fundus()).save(tmp_path / "eye.png")
    out = tmp_path / "maps"
    assert (
        main(["heatmap", str(tmp_path / "eye.png"), "--out", str(out), "--model", str(tiny_checkpoint), "--figure"])
        == 0
    )
    with Image.open(out / "eye.pathology-rl.figure.png") as png:
        description = png.text["Description"]
    assert f"P(glaucoma) {threshold:.3f} → normal (call at P ≥ {threshold:.2f})" in description


def letter_height(strip: np.ndarray) -> int:
    inked = np.flatnonzero((strip.min(axis=2) < 128).any(axis=1))
    first_row = inked[: np.argmax(np.diff(inked) > 1) + 1] if (np.diff(inked) > 1).any() else inked
    return int(first_row[-1] - first_row[0] + 1)


def test_heatmap_figure_writes_one_figure_per_map(tiny_checkpoint, make_fundus, tmp_path):
    from fundus_viewer.cli.main import main

    Image.fromarray(make_fundus()).save(tmp_path / "eye.png")
    out = tmp_path / "maps"
    args = ["heatmap", str(tmp_path / "eye.png"), "--out", str(out), "--model", str(tiny_checkpoint), "--figure"]
    assert main([*args, "--methods", "pathology,cam"]) == 0
    for name in ("pathology-rl", "pathology-rnfld", "cam"):
        with Image.open(out / f"eye.{name}.figure.png") as png:
            assert png.width == 600 and png.height > 420
            assert "eye.png" in png.text["Description"] and "P(glaucoma) " in png.text["Description"]
    assert sorted(p.name for p in out.glob("*.figure.png")) == [
        "eye.cam.figure.png",
        "eye.pathology-rl.figure.png",
        "eye.pathology-rnfld.figure.png",
    ]


def test_the_photo_as_the_window_shows_it_red_free_and_said_so(tmp_path, make_fundus):
    from fundus_viewer.core.display_adjust import DisplaySettings

    maps = photo_maps(tmp_path, make_fundus())
    figure = make_figure(maps, display=DisplaySettings(red_free=True))
    green = maps.photo.rgb[..., 1]
    assert np.array_equal(figure.pixels[: maps.photo.height], np.dstack([green] * 3))
    assert "photo shown red-free (green channel)" in figure.caption[1]
    assert "photo shown" not in make_figure(maps, display=DisplaySettings()).caption[1]
