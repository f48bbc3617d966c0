"""The Patho-GAN screens: Synthesize from the photo on screen, and the Train panel running the real
trainer in its own process (live curves, stop, resume)."""

from __future__ import annotations

import csv

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
    assert all(r.image.shape == (256, 256, 3) and r.rl.ndim == 2 for r in view.comparison.renditions)
    assert window.analysis is not None  # the synthesis did not make the photo's analysis stale
    view.close()
    window.close()


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
