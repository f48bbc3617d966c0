"""The HTML report (issue 20, item 13): one self-contained file per photo or folder, with known answers —
the photo's name (escaped), P(glaucoma) as classify gives it, every image embedded, each photo once."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from fundus_viewer.cli.main import main
from fundus_viewer.core.cup_disc import CupDiscMeasurement
from fundus_viewer.core.digest import file_sha256
from fundus_viewer.core.ood import OodScore
from fundus_viewer.core.report import photo_entries, photo_entry, render_report, report_context, write_report
from fundus_viewer.core.visualization.maps import build_maps
from fundus_viewer.core.visualization.selection import Thresholds

ODD_NAME = "<script>alert('eye') & co.png"  # markup in a file name must stay text


@pytest.fixture
def folder(tmp_path, make_fundus):
    photos = tmp_path / "photos"
    (photos / "left").mkdir(parents=True)
    Image.fromarray(make_fundus(height=300, width=400, centre=(200, 150), radius=140)).save(photos / ODD_NAME)
    Image.fromarray(make_fundus(height=260, width=350, centre=(170, 130), radius=120, seed=2)).save(
        photos / "left" / "eye2.jpg"
    )
    return photos


@pytest.fixture
def visualizer(tiny_checkpoint):
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    return PathologyVisualizer(load_classifier(tiny_checkpoint), device="cpu")


def embedded_images(text: str) -> list[np.ndarray]:
    """Every image of the page, decoded from its data URI (RGB)."""
    uris = re.findall(r'<img src="([^"]*)"', text)
    assert all(u.startswith("data:image/jpeg;base64,") for u in uris)  # nothing linked, all embedded, JPEG
    return [
        cv2.imdecode(np.frombuffer(base64.b64decode(u.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        for u in uris
    ]


def test_a_photo_report_says_what_the_window_says_and_embeds_its_images(folder, visualizer, tiny_checkpoint):
    thresholds = Thresholds(0.3, 0.2, 0.8, "max")
    result = build_maps(visualizer, folder / ODD_NAME, ("pathology", "cam"), thresholds)
    p = result.analysis.probability
    measured = CupDiscMeasurement(vcdr=0.456, outlines={}, disc=object())
    result.analysis = dataclasses.replace(result.analysis, ood=OodScore(0.5, 0.25))
    entry = photo_entry(result, visualizer.model, measured, "viridis", size=200)
    context = report_context(ODD_NAME, visualizer.model, visualizer.layers, thresholds, "viridis")
    text = render_report([entry], context)

    (title,) = re.findall(r"<h2>([^<]*)</h2>", text)
    assert html.unescape(title) == ODD_NAME and "<script>alert" not in text  # escaped: shown as text, never markup
    assert f"<b>{p:.3f} → {entry.row['prediction']}</b>" in text
    assert "θ act 0.30, θ CMI 0.20 – 0.80, CMI scaled by max" in text
    assert file_sha256(tiny_checkpoint) in text and "tiny.safetensors" in text
    assert html.escape(visualizer.model.calibration.says()) in text
    assert "<td>0.46</td>" in text  # the vCDR, two decimals as in the window
    assert "⚠ unlike the training photos (OOD 0.500 &gt; 0.250)" in text
    assert 'class="photos"' not in text  # one photo: no table
    photo, rl, rnfld, cam = embedded_images(text)
    assert photo.shape == rl.shape == cam.shape == (150, 200, 3)  # the longer side 200 px
    expected = cv2.resize(result.photo.rgb, (200, 150), interpolation=cv2.INTER_AREA)
    # JPEG at quality 90: the photo itself, within a level or two
    assert np.abs(photo.astype(int) - expected).mean() < 2
    assert not np.array_equal(rl, photo) and not np.array_equal(rl, rnfld)  # the maps drawn over it
    assert text.count("<figcaption>") == 4

    measured = CupDiscMeasurement(vcdr=float("nan"), outlines={}, disc=None)
    no_disc = render_report([photo_entry(result, visualizer.model, measured, size=64)], context)
    assert "no optic disc found" in no_disc


def test_a_folder_report_lists_every_photo_once_and_links_each(folder, visualizer, tmp_path):
    (folder / "broken.png").write_bytes(b"")  # a photo that cannot be read is a row with its error
    seen = []
    entries = photo_entries(folder, visualizer, size=96, progress=lambda n, total, e: seen.append((n, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    context = report_context("photos", visualizer.model, visualizer.layers, Thresholds(), "inferno")
    path = write_report(tmp_path / "report.html", entries, context)
    text = path.read_text(encoding="utf-8")
    assert not list(tmp_path.glob("*.partial"))

    names = [ODD_NAME, "broken.png", "left/eye2.jpg"]
    assert [e.name for e in entries] == names
    sections = re.findall(r'<section id="(photo-\d+)">\s*<h2>([^<]*)</h2>', text)
    assert [html.unescape(name) for _, name in sections] == names  # each photo's section, once
    assert len(set(sections)) == 3
    rows = re.findall(r'<td><a href="#(photo-\d+)">([^<]*)</a></td>', text)
    assert rows == sections  # the table: one row per photo, linking to its section
    assert text.count("Not analysed: ") == 1 and "the file is empty" in text
    for entry in (entries[0], entries[2]):
        assert f"<td>{entry.row['probability_glaucoma']:.3f}</td>" in text
    assert len(embedded_images(text)) == 2 * (1 + 3)  # a thumbnail, the photo, RL and RNFLD each


def test_any_error_on_one_photo_is_its_row_and_the_others_go_on(folder, visualizer, monkeypatch):
    import fundus_viewer.core.visualization.maps as maps_module

    build_maps = maps_module.build_maps

    def fails_on_eye2(visualizer, photo, *args, **kwargs):
        if photo.name == "eye2.jpg":
            raise cv2.error("OpenCV(4.10) resize.cpp:4152: error: (-215:Assertion failed) !ssize.empty()")
        return build_maps(visualizer, photo, *args, **kwargs)

    monkeypatch.setattr(maps_module, "build_maps", fails_on_eye2)
    entries = photo_entries(folder, visualizer, size=64)
    assert [e.name for e in entries] == [ODD_NAME, "left/eye2.jpg"]
    assert not entries[0].error and entries[0].row["prediction"]
    assert entries[1].error.startswith("cv2.error: OpenCV(4.10) resize.cpp") and not entries[1].row
    context = report_context("photos", visualizer.model, visualizer.layers, Thresholds(), "inferno")
    text = render_report(entries, context)
    assert (
        text.count("Not analysed: cv2.error: OpenCV") == 1 and len(embedded_images(text)) == 1 + 3
    )  # the thumbnail, photo, RL, RNFLD of one


def test_report_cli_on_a_folder_matches_classify(folder, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out" / "report.html"
    common = ["--model", str(tiny_checkpoint), "--device", "cpu"]
    assert main(["report", str(folder), "--out", str(out), "--no-cup-disc", "--image-size", "120", *common]) == 0
    assert "2 photo(s), 0 with errors" in capsys.readouterr().err
    text = out.read_text(encoding="utf-8")
    assert main(["classify", str(folder / ODD_NAME), str(folder / "left" / "eye2.jpg"), "--json", *common]) == 0
    classified = json.loads(capsys.readouterr().out)
    rows = re.findall(r'<td><a href="#photo-\d+">([^<]*)</a></td>', text)
    titles = re.findall(r"<h2>([^<]*)</h2>", text)[1:]  # after the table's heading
    assert [html.unescape(n) for n in rows] == [html.unescape(n) for n in titles] == [ODD_NAME, "left/eye2.jpg"]
    for row in classified:  # the same P and call as classify gives
        assert f"<b>{row['probability_glaucoma']:.3f} → {row['prediction']}</b>" in text
    assert text.count("<td>not measured</td>") == 4  # in the table and in each section
    assert all(max(image.shape[:2]) == 120 for image in embedded_images(text)[2:])

    single = tmp_path / "one.html"
    assert main(["report", str(folder / "left" / "eye2.jpg"), "--out", str(single), "--no-cup-disc", *common]) == 0
    one = single.read_text(encoding="utf-8")
    assert "<h2>eye2.jpg</h2>" in one and 'class="photos"' not in one
    assert main(["report", str(tmp_path / "out"), "--out", str(tmp_path / "none.html"), *common]) == 2
    assert "no photos in" in capsys.readouterr().err
