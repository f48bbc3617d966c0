"""The Patho-GAN screens: Synthesize from the photo on screen, and the Train panel running the real
trainer in its own process (live curves, stop, resume)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.test_gan import gan_args
from tests.test_trainer_vessels import make_pairs

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


def test_synthesize_view_shows_both_generators_and_their_maps(qtbot, tmp_path):
    from fundus_viewer.core.resources import samples_dir
    from fundus_viewer.gui.main_window import MainWindow

    window = MainWindow(None, "cpu")  # the bundled classifier, segmenter and generators
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "·" in window.device_label.text(), timeout=60000)
    with qtbot.waitSignal(window.analysis_shown, timeout=60000):
        window.open_photo(samples_dir() / "HRF_01_g.jpg")
    view = window.open_synthesize()
    window.synthesize(seed=3)
    qtbot.waitUntil(lambda: view.comparison is not None or "failed" in view.status.text(), timeout=120000)
    assert view.comparison is not None, view.status.text()
    names = [r.name for r in view.comparison.renditions]
    assert names == ["real", "Patho-GAN", "baseline"]
    assert all(r.image.shape == (256, 256, 3) and r.rl.ndim == 2 for r in view.comparison.synthetic)
    assert window.analysis is not None  # the synthesis did not make the photo's analysis stale
    # the real photo's P is the main window's, to the digit both print, and its maps are the main view's
    real = view.comparison.real
    shown = f"P(glaucoma) {window.analysis.probability:.3f}"
    assert real.probability == window.analysis.probability and shown in window.panel.result.text()
    assert shown in view.views[("real", "rl")].plot.titleLabel.text
    assert real.image.shape == window.photo.rgb.shape  # the photo itself, not the GAN's 256 px square
    # each map drawn as the main view draws it: resampled smoothly over the photo at screen resolution
    qtbot.waitExposed(view)
    qtbot.wait(200)  # the views' refresh after their first layout
    for r in view.comparison.renditions:
        for key in ("rl", "rnfld"):
            photo_view = view.views[(r.name, key)]
            assert np.array_equal(photo_view.heat_map.grid, r.maps()[key].grid)
            values = photo_view.shown_heat[0]
            cells = photo_view.heat_map.grid.size
            title = photo_view.plot.titleLabel.text
            assert f"P(glaucoma) {r.probability:.3f}" in title
            if photo_view.heat_map.peak <= 0:  # this map has no positive evidence: the title says so
                assert "none positive" in title and not values.any()
                continue
            assert min(values.shape) > 40 and len(np.unique(values)) > 2 * cells  # not a nearest-neighbour grid
    main = window.view.shown_heat[0]
    real_rl = view.views[("real", "rl")]
    assert real_rl.heat_map.extent == window.view.heat_map.extent and main.max() == pytest.approx(1, abs=0.02)
    view.close()
    window.close()


def test_save_writes_the_synthetic_photos_maps_and_sidecar(qtbot, tmp_path, tiny_checkpoint, monkeypatch):
    import json

    from fundus_viewer import __version__
    from fundus_viewer.core.digest import file_sha256
    from fundus_viewer.core.gan.checkpoint import default_generator_path
    from fundus_viewer.core.resources import samples_dir
    from tests.main_windows import make_window

    window = make_window(qtbot, tiny_checkpoint)
    sample = samples_dir() / "HRF_01_g.jpg"
    with qtbot.waitSignal(window.analysis_shown, timeout=60000):
        window.open_photo(sample)
    view = window.open_synthesize()
    window.synthesize(seed=5)
    qtbot.waitUntil(lambda: view.comparison is not None or "failed" in view.status.text(), timeout=120000)
    assert view.save_button.isEnabled(), view.status.text()
    out = tmp_path / "saved"
    written = view.save(out)
    names = sorted(p.name for p in out.iterdir())
    expected = ["HRF_01_g.vessels.png", "HRF_01_g.synthesis.seed-5.json"]
    for slug in ("patho-gan", "baseline"):
        expected += [f"HRF_01_g.{slug}.seed-5.png"]
        expected += [f"HRF_01_g.{slug}.seed-5.{key}.{ext}" for key in ("rl", "rnfld") for ext in ("npy", "png")]
    assert names == sorted(expected) and sorted(p.name for p in written) == sorted(expected)
    from PIL import Image

    assert Image.open(out / "HRF_01_g.patho-gan.seed-5.png").size == (256, 256)  # at its generated size
    assert np.load(out / "HRF_01_g.baseline.seed-5.rnfld.npy").shape == (256, 256)
    sidecar = json.loads((out / "HRF_01_g.synthesis.seed-5.json").read_text())
    assert sidecar["seed"] == 5 and sidecar["written_by"] == f"fundus-viewer {__version__}"
    assert sidecar["source_photo"]["path"] == str(sample)
    assert sidecar["real"]["probability_glaucoma"] == round(window.analysis.probability, 6)
    assert sidecar["classifier"]["sha256"] == file_sha256(tiny_checkpoint)
    by_name = {g["name"]: g for g in sidecar["generators"]}
    for name, which in (("Patho-GAN", "patho-gan"), ("baseline", "baseline")):
        path = default_generator_path(which)
        assert by_name[name]["checkpoint"] == str(path) and by_name[name]["sha256"] == file_sha256(path)
        rendition = next(r for r in view.comparison.synthetic if r.name == name)
        assert by_name[name]["probability_glaucoma"] == round(rendition.probability, 6)
    # a folder that cannot be made: one clear message, nothing written
    warnings = []
    monkeypatch.setattr("fundus_viewer.gui.synthesize_window.QMessageBox.warning", lambda *a: warnings.append(a[2]))
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert view.save(blocked / "sub") == []
    assert len(warnings) == 1 and "Nothing was saved" in warnings[0] and str(blocked) in warnings[0]
    view.close()
    window.close()


def test_the_real_photo_is_analysed_as_the_main_window_does(tiny_alexnet, tiny_vessels):
    """Without the window's analysis (it is still running) the comparison makes it by the same path."""
    from fundus_viewer.core.gan.checkpoint import load_generator
    from fundus_viewer.core.gan.compare import compare_photo
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.resources import samples_dir
    from fundus_viewer.core.vessels import load_vessel_segmenter
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    path = samples_dir() / "HRF_01_g.jpg"
    main = PathologyVisualizer(tiny_alexnet, device="cpu").analyze(prepare_photo(path))
    comparison = compare_photo(
        tiny_alexnet, load_vessel_segmenter(tiny_vessels), str(path), {"g": load_generator(which="baseline")}, 1
    )
    assert comparison.real.probability == pytest.approx(main.probability, abs=1e-6)
    assert comparison.real.maps()["rl"].grid == pytest.approx(main.heatmaps().maps["rl"].grid, abs=1e-5)


def test_train_panel_runs_stops_and_resumes_the_trainer(qtbot, tmp_path, tiny_checkpoint):
    from fundus_viewer.gui.gan_train_panel import GanTrainPanel

    data = make_pairs(tmp_path / "pairs", count=5, size=64)
    out = tmp_path / "run"
    args = gan_args(data, out, tiny_checkpoint, 400)
    panel = GanTrainPanel()
    qtbot.addWidget(panel)
    panel.data.setText(str(data))
    panel.out.setText(str(out))
    panel.steps.setValue(400)
    skip = {"--data", "--out", "--steps"}
    extra = [a for i, a in enumerate(args) if a not in skip and (i == 0 or args[i - 1] not in skip)]
    panel.extra.setText(" ".join(extra))
    assert panel.start()

    def plotted() -> int:
        x = panel.lines["g_adv"].getData()[0]
        return 0 if x is None else len(x)

    qtbot.waitUntil(lambda: (out / "last.pt").exists() and plotted() >= 2, timeout=120000)
    panel.stop()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=30000)
    with (out / "log.csv").open() as stream:
        before = len(list(csv.DictReader(stream)))
    panel.steps.setValue(before + 2)
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        assert panel.start(resume=True)
    assert blocker.args[0] == 0
    with (out / "log.csv").open() as stream:
        steps = [int(r["step"]) for r in csv.DictReader(stream)]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= before  # resumed from the checkpoint, no gap
    assert "resuming after step" in panel.output.toPlainText()
    assert panel.sample.pixmap() is not None and not panel.sample.pixmap().isNull()
