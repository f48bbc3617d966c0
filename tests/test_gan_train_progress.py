"""What a GAN training run says while it runs: the trainer's progress lines (``--progress json``) from
before the first step to the last, the Train panel's phase label and bar fed by a scripted run, how the
panel words the run's end (stopped, finished, failed), and gan-report's progress bars."""

from __future__ import annotations

import io
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.test_gan import gan_args
from tests.test_trainer_vessels import make_pairs

# A stand-in for ``python -m trainer gan ...``: each block of output waits for a line on stdin, so the
# test sees every state the panel passes through; the last block is the exit code, or "wait" (for Stop).
PLAYER = textwrap.dedent(
    """
    import json, sys, time
    blocks = json.loads(sys.argv[1])
    for block in blocks[:-1]:
        for text in block:
            if text.startswith("half:"):  # a line written in two pieces, as a pipe may deliver it
                sys.stdout.write(text[5:15]); sys.stdout.flush(); time.sleep(0.3)
                sys.stdout.write(text[15:] + "\\n")
            else:
                sys.stdout.write(text + "\\n")
            sys.stdout.flush()
        sys.stdin.readline()
    if blocks[-1] == "wait":
        time.sleep(60)
    sys.exit(blocks[-1])
    """
)


@pytest.fixture
def scripted_panel(qtbot, tmp_path, isolated_settings):
    import json

    from fundus_viewer.gui.gan_train_panel import GanTrainPanel

    script = tmp_path / "player.py"
    script.write_text(PLAYER)
    panel = GanTrainPanel()
    qtbot.addWidget(panel)
    panel.data.setText(str(tmp_path / "data.csv"))
    panel.out.setText(str(tmp_path / "run"))

    def play(*blocks) -> None:
        panel.program = [sys.executable, str(script), json.dumps(blocks)]
        assert panel.start()

    panel.play = play
    yield panel
    panel.stop()


def busy(panel) -> bool:
    return panel.progress.bar.maximum() == 0


def test_panel_shows_each_phase_then_steps_and_says_stopped(qtbot, scripted_panel):
    panel = scripted_panel
    panel.play(
        ['{"phase": "loading the models", "done": null, "total": null}'],
        ['half:{"phase": "segmenting vessels", "done": 37, "total": 120}', "120 photo / vessel-map pairs"],
        ['{"phase": "building the networks", "done": null, "total": null}'],
        [
            '{"phase": "training", "done": 0, "total": 1500}',
            '{"phase": "training", "done": 300, "total": 1500, "checkpoint": 300}',
            '{"phase": "training", "done": 312, "total": 1500}',
        ],
        "wait",
    )
    label, bar = panel.progress.phase, panel.progress.bar
    assert label.text() == "Starting…" and busy(panel)  # before the trainer's first word
    qtbot.waitUntil(lambda: label.text() == "Loading the models…")
    assert busy(panel)
    panel.process.write(b"next\n")
    qtbot.waitUntil(lambda: label.text() == "Segmenting vessels 37/120")
    assert (bar.minimum(), bar.maximum(), bar.value()) == (0, 120, 37)
    panel.process.write(b"next\n")
    qtbot.waitUntil(lambda: label.text() == "Building the networks…")
    assert busy(panel)
    panel.process.write(b"next\n")
    qtbot.waitUntil(lambda: label.text().startswith("Training: step 312 / 1,500"))
    assert (bar.maximum(), bar.value()) == (1500, 312)
    shown = panel.output.toPlainText()
    assert "120 photo / vessel-map pairs" in shown and '"phase"' not in shown  # progress lines are not echoed
    panel.stop()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled())
    assert label.text() == "Stopped at step 312 (Resume continues from the checkpoint of step 300)"
    assert "Stopped" in panel.output.toPlainText() and "status 15" not in panel.output.toPlainText()
    assert bar.value() == 312  # where it stopped


def test_panel_says_finished_or_failed_with_the_last_lines(qtbot, scripted_panel):
    panel = scripted_panel
    with qtbot.waitSignal(panel.finished, timeout=20000):
        panel.play(['{"phase": "training", "done": 2, "total": 4}'], 0)
        qtbot.waitUntil(lambda: panel.progress.bar.value() == 2)
        panel.process.write(b"next\n")
    assert panel.progress.phase.text() == "Finished"
    assert panel.progress.bar.value() == panel.progress.bar.maximum() == 4
    with qtbot.waitSignal(panel.finished, timeout=20000):
        panel.play(["Traceback (most recent call last):", "ValueError: no glaucoma photos"], 3)
        qtbot.waitUntil(lambda: "ValueError" in panel.output.toPlainText())
        panel.process.write(b"next\n")
    assert panel.progress.phase.text() == "Failed (exit code 3)"
    assert "ValueError: no glaucoma photos" in panel.progress.detail.text()
    assert not panel.progress.detail.isHidden() and not busy(panel)


def test_trainer_reports_its_phases_before_and_during_the_steps(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    from fundus_viewer.core import progress
    from fundus_viewer.core.progress import parse
    from trainer.gan import main as gan_main

    monkeypatch.setattr(progress, "EVERY", 0.0)  # every step (a fast run's are thinned out: the next test)

    data = make_pairs(tmp_path / "pairs", count=5, size=64)
    assert gan_main(gan_args(data, tmp_path / "run", tiny_checkpoint, 3, every=2) + ["--progress", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    events = [parse(line) for line in lines]
    assert None not in events, lines  # stdout holds progress lines only
    phases = list(dict.fromkeys(e["phase"] for e in events))
    assert phases == [
        "loading the models",
        "reading vessel masks",
        "building the networks",
        "training",
        "saving the generator",
    ]
    assert [(e["done"], e["total"]) for e in events if e["phase"] == "reading vessel masks"] == [
        (k, 5) for k in range(6)
    ]
    training = [e for e in events if e["phase"] == "training"]
    assert [e["done"] for e in training] == [0, 1, 2, 3] and {e["total"] for e in training} == {3}
    assert [e["checkpoint"] for e in training if "checkpoint" in e] == [2, 3]  # every 2 steps, and the last
    assert events[0] == {"phase": "loading the models", "done": None, "total": None}


def test_steps_are_thinned_out_but_the_first_last_and_checkpoints_always_said():
    from fundus_viewer.core.progress import Progress, parse

    stream = io.StringIO()
    progress = Progress("json", stream=stream)
    for step in range(101):  # far faster than one a second
        progress.count("training", step, 100, **({"checkpoint": step} if step in (40, 80) else {}))
    said = [parse(line)["done"] for line in stream.getvalue().splitlines()]
    assert said[0] == 0 and said[-1] == 100 and {40, 80} <= set(said) and len(said) < 10


def test_segmenting_the_training_photos_is_counted(tmp_path, make_fundus, tiny_vessels):
    from trainer.gan_data import photo_pairs

    for k in range(3):
        (tmp_path / "photos" / "glaucoma").mkdir(parents=True, exist_ok=True)
        photo = make_fundus(height=160, width=200, centre=(100, 80), radius=75, seed=k)
        Image.fromarray(photo).save(tmp_path / "photos" / "glaucoma" / f"{k}.png")
    (tmp_path / "photos" / "normal").mkdir()
    Image.fromarray(make_fundus(height=160, width=200, centre=(100, 80), radius=75, seed=9)).save(
        tmp_path / "photos" / "normal" / "n.png"
    )
    calls = []
    pairs = photo_pairs(
        str(tmp_path / "photos"),
        tmp_path / "cache",
        32,
        2.0,
        "glaucoma",
        tiny_vessels,
        log=lambda *a, **k: None,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert len(pairs) == 3 and calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_report_progress_bars_show_on_a_terminal_only():
    from fundus_viewer.core.progress import Bar

    for stream, enabled, shown in ((Terminal(), True, True), (Terminal(), False, False), (io.StringIO(), True, False)):
        update = Bar("vessel maps", enabled, file=stream)
        for done in range(6):
            update(done, 5)
        assert ("vessel maps: 100%" in stream.getvalue() and "5/5" in stream.getvalue()) == shown
        assert shown or stream.getvalue() == ""


def test_report_measures_count_their_photos(tiny_alexnet, make_fundus, monkeypatch):
    from fundus_viewer.core import cup_disc
    from fundus_viewer.core.gan import report
    from fundus_viewer.core.gan.networks import GanSpec, Generator
    from fundus_viewer.core.gan.pairs import make_pair
    from fundus_viewer.core.gan.report import evaluate_generator

    monkeypatch.setattr(report, "fid", lambda a, b: 0.0)  # torchmetrics' import alone takes seconds
    monkeypatch.setattr(report, "kid", lambda a, b: (0.0, 0.0))

    rng = np.random.default_rng(0)
    photos = [make_fundus(height=160, width=200, centre=(100, 80), radius=75, seed=k) for k in range(3)]
    pairs = [make_pair(f"{k}.png", "d", 1, p, rng.random((160, 200)), 32, 2.0) for k, p in enumerate(photos)]
    generator = Generator(GanSpec(size=32, gen_base=4, gen_depth=2, disc_base=4, disc_layers=2)).eval()
    calls = []
    evaluate_generator("g", generator, tiny_alexnet, pairs, pairs, 2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]  # each heat map once
    # with the cup/disc segmenter the 3 x 2 synthetic photos are counted on, each count still said once
    monkeypatch.setattr(cup_disc, "measure_cup_disc", lambda _m, _i: cup_disc.CupDiscMeasurement(float("nan"), {}))
    calls.clear()
    evaluate_generator(
        "g",
        generator,
        tiny_alexnet,
        pairs,
        pairs,
        2,
        cup_disc_model=object(),
        references=[0.5] * 3,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(k, 9) for k in range(10)]


def test_the_panels_browse_dialogs_open_where_gan_data_was_last_chosen(qtbot, tmp_path, isolated_settings, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from fundus_viewer.gui.gan_train_panel import GanTrainPanel

    starts = []
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileName",
        staticmethod(lambda _p, _c, start="", *_a, **_k: starts.append(start) or ("", "")),
    )
    monkeypatch.setattr(
        QFileDialog,
        "getExistingDirectory",
        staticmethod(lambda _p, _c, start="", *_a, **_k: starts.append(start) or ""),
    )
    (tmp_path / "gan-data").mkdir()
    QSettings().setValue("dialogs/gan", str(tmp_path / "gan-data"))
    panel = GanTrainPanel()
    qtbot.addWidget(panel)
    data_button, run_button = [b for b in panel.findChildren(QPushButton) if b.text() == "…"]
    data_button.click()
    run_button.click()
    panel.out.setText(str(tmp_path / "runs" / "new-run"))  # a run folder still to be made: where it will be
    (tmp_path / "runs").mkdir()
    run_button.click()
    assert starts == [str(tmp_path / "gan-data")] * 2 + [str(tmp_path / "runs")]
