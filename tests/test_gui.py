"""The review window driven through its real widgets (pytest-qt, offscreen)."""

import numpy as np
import pytest
from main_windows import make_window
from PIL import Image

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    win = make_window(qtbot, tiny_checkpoint, annotator=None)
    yield win
    win.close()


@pytest.fixture
def photo(tmp_path, make_fundus):
    path = tmp_path / "eye.png"
    Image.fromarray(make_fundus()).save(path)
    return path


def test_open_photo_shows_maps_and_sliders_recombine_without_the_network(qtbot, window, photo):
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        assert window.open_photo(photo)
    first, region = window.view.shown_heat
    first = first.copy()
    assert region[2] - region[0] <= 600 and region[3] - region[1] <= 420  # the map's part of the photo
    passes = []
    handle = window.worker._visualizer.model.register_forward_hook(lambda *a: passes.append(1))
    redraws = []
    window.redrawn.connect(lambda: redraws.append(1))
    try:
        with qtbot.waitSignal(window.redrawn, timeout=5000):
            window.panel.theta_act.setValue(0.6)
            window.panel.cmi.setValue((0.3, 0.5))
        qtbot.wait(50)
        assert redraws == [1]  # both changes, one redraw
    finally:
        handle.remove()
    assert passes == []
    assert not np.array_equal(first, window.view.shown_heat[0])
    assert "active" in window.panel.counts.text()
    assert "CPU" in window.device_label.text()


def test_a_bad_photo_gives_a_dialog_and_the_app_goes_on(qtbot, window, photo, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert window.open_photo(tmp_path / "broken.jpg")  # decoded in the worker: the answer comes later
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert shown[0][0] == "Cannot open photo" and "broken.jpg" in shown[0][1]
    assert not window.open_photo(tmp_path / "absent.jpg") and "no such file" in shown[1][1]
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        assert window.open_photo(photo)


def test_a_newer_photo_supersedes_an_older_one(qtbot, window, photo, tmp_path, make_fundus):
    second = tmp_path / "second.png"
    Image.fromarray(make_fundus(height=300, width=300, centre=(150, 150), radius=140)).save(second)
    window.open_photo(photo)
    window.open_photo(second)
    qtbot.waitUntil(lambda: window.analysis is not None, timeout=30000)
    qtbot.wait(200)
    assert window.analysis.image.name == "second.png"


def test_the_worker_drops_jobs_a_newer_photo_superseded(qapp, tiny_checkpoint, photo):
    """The window test above would pass if stale replies were merely ignored on screen; here the worker
    itself is driven: an opening or an analysis older than the newest request does no work and replies
    nothing, the newest does."""
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.gui.worker import ANALYSIS, PHOTO, AnalysisWorker

    worker = AnalysisWorker(str(tiny_checkpoint), "cpu", cup_disc_path="")
    replies = []
    worker.returned.connect(replies.append)
    worker.errored.connect(replies.append)
    worker.load_model(str(tiny_checkpoint))
    replies.clear()
    analysed = []
    real_analyze = worker._visualizer.analyze
    worker._visualizer.analyze = lambda p: analysed.append(p) or real_analyze(p)
    prepared = prepare_photo(photo)
    worker.note_open(1)
    worker.note_open(2)  # a newer photo was asked for before job 1 reached the worker
    worker.open_photo(1, str(photo))
    worker.analyze(1, prepared)
    assert replies == [] and analysed == []
    worker.open_photo(2, str(photo))
    worker.analyze(2, prepared)
    assert [(r.job, r.kind, r.ok) for r in replies] == [(2, PHOTO, True), (2, ANALYSIS, True)]
    assert len(analysed) == 1


def test_missing_model_is_reported(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from fundus_viewer.gui.main_window import MainWindow

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    win = MainWindow(str(tmp_path / "absent.safetensors"), "cpu")
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert "no such model file" in shown[0][1] and win.device_label.text() == "no model"
    win.close()


def test_a_model_opened_after_a_failed_start_analyses_the_photo_on_screen(
    qtbot, tmp_path, monkeypatch, tiny_checkpoint, photo
):
    from PySide6.QtWidgets import QMessageBox

    from fundus_viewer.gui.main_window import MainWindow

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    win = MainWindow(str(tmp_path / "absent.safetensors"), "cpu")
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.device_label.text() == "no model", timeout=30000)
    win.open_photo(photo)
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=30000)
    assert shown[1][0] == "Analysis failed" and "No classifier is loaded" in shown[1][1]
    with qtbot.waitSignal(win.analysis_shown, timeout=30000):
        win.open_model(tiny_checkpoint)
    assert "tiny.safetensors" in win.device_label.text() and win.analysis.image.name == "eye.png"
    win.close()


def test_the_dangling_thread_check_fails_a_test_that_leaks_a_thread(pytester):
    """The no_dangling_threads fixture itself, run on two tests: a thread left running fails its test;
    one stopped in time passes."""
    pytester.makeconftest("from qt_threads import no_dangling_threads  # noqa: F401")
    pytester.makepyfile(
        """
        import pytest
        from PySide6.QtCore import QThread

        pytestmark = pytest.mark.usefixtures("no_dangling_threads")
        kept = []

        def test_leaks():
            kept.append(QThread())
            kept[-1].setObjectName("leaked-worker")
            kept[-1].start()

        def test_stops():
            thread = QThread()
            thread.start()
            thread.quit()
            thread.wait()
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.re_match_lines([r".*QThreads left running: \['leaked-worker'\]"])


def test_self_test_opens_a_bundled_sample_with_every_bundled_model(tmp_path):
    """What the packaged app runs after a build: maps on a sample, and the cup/disc measurement."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "fundus_viewer", "--self-test"], capture_output=True, text=True, timeout=180, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout
    assert "vertical cup-to-disc ratio" in result.stdout and "disc" in result.stdout.split("outlines", 1)[1]


def test_an_uncaught_error_is_logged_and_shown_not_lost(qtbot, tmp_path, monkeypatch):
    """A gui-script has no console: the excepthook writes the traceback to the user's log file and
    tells the user, in a dialog (queued to the GUI thread, so a worker's error reaches it too)."""
    import logging
    import sys
    import threading

    from PySide6.QtWidgets import QMessageBox

    from fundus_viewer.gui import crash

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append((title, text)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(crash, "_installed", {})
    path = crash.log_to_file()
    crash.install_excepthook()
    try:
        assert path is not None and str(path).startswith(str(tmp_path))  # under the test's XDG_STATE_HOME
        try:
            raise RuntimeError("the disc vanished")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
        worker = threading.Thread(target=lambda: 1 / 0)
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(shown) == 2, timeout=5000)
        assert "RuntimeError: the disc vanished" in shown[0][1] and str(path) in shown[0][1]
        assert "ZeroDivisionError" in shown[1][1]
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = path.read_text(encoding="utf-8")
        assert "the disc vanished" in text and "Traceback" in text and "ZeroDivisionError" in text
    finally:
        for handler in [h for h in logging.getLogger().handlers if getattr(h, "baseFilename", None) == str(path)]:
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_file_open_model_loads_an_imported_network_in_the_worker(qtbot, window, photo, tmp_path, monkeypatch):
    """File > Open model: the imported network's stage names under Layers, its name in the status bar and
    the photo analysed again with it; a file that is no model leaves the loaded one in place."""
    import torch
    import torchvision
    from PySide6.QtWidgets import QMessageBox

    from fundus_viewer.core.models.importing import import_classifier

    torch.manual_seed(0)
    torch.save(
        torchvision.models.get_model("densenet121", weights=None, num_classes=2).state_dict(), tmp_path / "dn.pth"
    )
    imported = import_classifier(
        tmp_path / "dn.pth", "torchvision:densenet121", tmp_path / "ours-densenet.safetensors", input_size=128
    )
    Image.fromarray(np.asarray(Image.open(photo))[:, ::-1]).save(tmp_path / "other.png")
    for path in (tmp_path / "other.png", photo):
        with qtbot.waitSignal(window.analysis_shown, timeout=30000):
            window.open_photo(path)
    with qtbot.waitSignal(window.baseline_shown, timeout=30000):
        window.panel.pathology.setCurrentIndex(window.panel.pathology.findData("cam"))
    old_probability = window.analysis.probability
    assert set(window.photos.probabilities) == {"other.png", "eye.png"} and "cam" in window.baselines
    with qtbot.waitSignal(window.analysis_shown, timeout=60000):
        window.open_model(imported.path)
        assert not window.panel.layers.isEnabled()  # no layer choice may reach the worker after the new model
    assert window.panel.layers.isEnabled()
    assert window.worker._visualizer.model.spec.arch == "torchvision:densenet121"
    assert window.model_loaded.visualizer is window.worker._visualizer  # what an export names as the source
    assert set(window.photos.probabilities) == {"eye.png"}  # the old model's P of other.png is gone
    qtbot.waitUntil(lambda: "cam" in window.baselines, timeout=30000)  # the CAM on screen is made again
    assert window.baselines["cam"].note != "" and window.current_maps().model["checkpoint"] == str(imported.path)
    assert "ours-densenet.safetensors" in window.device_label.text() and "densenet121" in window.device_label.text()
    layers = [window.panel.layers.item(i).text() for i in range(window.panel.layers.count())]
    assert "features.denseblock4" in layers and window.panel.ticked_layers() == list(imported.model.default_layers)
    assert window.analysis.probability != old_probability and window.model_path == str(imported.path)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    window.open_model(tmp_path / "junk.safetensors")
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert "junk.safetensors" in shown[0][1] and "ours-densenet.safetensors stays loaded" in shown[0][1]
    assert "ours-densenet.safetensors" in window.device_label.text()
    assert window.worker._visualizer.model.spec.arch == "torchvision:densenet121"


def test_the_status_bar_and_the_list_make_the_models_own_call(qtbot, tmp_path, tiny_alexnet, photo):
    """A calibrated threshold above P: the window says normal and does not mark the photo, where P >= 0.5
    would have called it glaucoma (and the reverse below P)."""
    from fundus_viewer.core.calibration import Calibration
    from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier
    from fundus_viewer.gui.main_window import MainWindow

    model = load_classifier(save_classifier(tiny_alexnet, tmp_path / "plain.safetensors"))
    for threshold, call in ((0.999, "normal"), (0.001, "glaucoma")):
        model.spec.calibration = Calibration(1.0, threshold, "specificity 0.85", "a test").to_dict()
        path = save_classifier(model, tmp_path / f"calibrated-{call}.safetensors")
        win = MainWindow(str(path), "cpu")
        qtbot.addWidget(win)
        with qtbot.waitSignal(win.analysis_shown, timeout=30000):
            qtbot.waitUntil(lambda win=win: win.model_loaded is not None, timeout=30000)
            win.open_photo(photo)
        assert f"→ {call}" in win.statusBar().currentMessage()
        assert (
            f"→ {call}</b>" in win.panel.result.text() and f"call at P &gt;= {threshold:.2f}" in win.panel.result.text()
        )
        assert win.photos.called["eye.png"] is (call == "glaucoma")
        win.close()
