"""The blinded rating screen, driven by its keyboard (pytest-qt), and a rater killed mid-study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QMessageBox, QWidget

from fundus_viewer.core.study.create import create_study
from fundus_viewer.core.study.store import RatingSession, StudyFile
from fundus_viewer.gui.rating_window import RatingWindow
from tests.test_study import write_arm

ARMS = ("patho-gan", "baseline")


@pytest.fixture
def study_path(tmp_path) -> Path:
    gan = write_arm(tmp_path / "synthetic_pathogan", "pathogan_from_vessels", 3, size=(512, 512))
    base = write_arm(tmp_path / "synthetic_base", "baseline_from_vessels", 3, size=(400, 640), seed=5)
    path = tmp_path / "study.fvstudy"
    create_study(
        path, {"patho-gan": sorted(gan.iterdir()), "baseline": sorted(base.iterdir())}, size=256, repeats=1, seed=2
    ).close()
    return path


@pytest.fixture
def window(qtbot, study_path):
    study = StudyFile(study_path)
    win = RatingWindow(RatingSession(study, "dr-ann"))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    study.close()


def key(qtbot, widget, text_or_key):
    if isinstance(text_or_key, str):
        qtbot.keyClicks(widget, text_or_key)
    else:
        qtbot.keyClick(widget, text_or_key)


def test_whole_study_by_keyboard_alone(qtbot, window, study_path):
    total = len(window.session.order)
    assert total == 7  # 6 images + 1 repeated
    with qtbot.waitSignal(window.completed, timeout=10000):
        for i in range(total):
            key(qtbot, window, str(1 + i % 5))
            key(qtbot, window, Qt.Key.Key_Tab)
            key(qtbot, window, str(5 - i % 5))
            key(qtbot, window, Qt.Key.Key_Return)
    with StudyFile(study_path) as study:
        answers = study.answers_of("dr-ann")
        order = study.order("dr-ann")
    assert len(answers) == 2 * total
    assert [answers[c, "rl"] for c in order] == [1 + i % 5 for i in range(total)]
    assert [answers[c, "rnfld"] for c in order] == [5 - i % 5 for i in range(total)]
    assert window.progress.value() == total


FRAME_BLUE = (0x4A, 0xA3, 0xFF)


class _Paints(QObject):
    """Counts the paint events a widget gets: what is on screen, not what a fresh grab() would draw."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def _frame_colour(box) -> tuple[int, int, int]:
    image = box.grab().toImage()
    colour = image.pixelColor(1, image.height() // 2)  # the left border, half-way down
    return colour.red(), colour.green(), colour.blue()


def test_blue_frame_is_repainted_on_the_question_the_next_key_scores(qtbot, window, study_path):
    painted = []
    for box in window.boxes:
        painted.append(_Paints())
        box.installEventFilter(painted[-1])
    assert [_frame_colour(box) == FRAME_BLUE for box in window.boxes] == [True, False]
    for press, focused in ((Qt.Key.Key_Tab, 1), (Qt.Key.Key_Up, 0), (Qt.Key.Key_Down, 1), (Qt.Key.Key_Down, 0)):
        for counter in painted:
            counter.count = 0
        key(qtbot, window, press)
        # both frames change, so both must be painted again (a re-polish alone paints nothing)
        qtbot.waitUntil(lambda: all(counter.count for counter in painted), timeout=2000)
        assert window.focused == focused
        assert [_frame_colour(box) == FRAME_BLUE for box in window.boxes] == [i == focused for i in range(2)]
    key(qtbot, window, "3")  # scores the framed question
    with StudyFile(study_path) as study:
        first = study.order("dr-ann")[0]
        assert study.answers_of("dr-ann") == {(first, "rl"): 3}


def test_back_to_change_an_answer_and_no_skipping(qtbot, window, study_path):
    key(qtbot, window, Qt.Key.Key_Return)  # to the second question
    key(qtbot, window, Qt.Key.Key_Return)  # nothing answered: stays, says why
    assert window.position == 0 and "every question" in window.message.text() and window.focused == 0
    key(qtbot, window, "4")
    key(qtbot, window, Qt.Key.Key_Right)  # RNFLD still open
    assert window.position == 0 and window.focused == 1
    key(qtbot, window, "2")
    key(qtbot, window, Qt.Key.Key_Right)
    assert window.position == 1
    key(qtbot, window, Qt.Key.Key_Left)
    assert window.position == 0
    assert window.boxes[0].group.checkedId() == 4 and window.boxes[1].group.checkedId() == 2
    assert window.focused == 0  # a finished case opens on its first question
    key(qtbot, window, Qt.Key.Key_Down)
    key(qtbot, window, Qt.Key.Key_Up)
    key(qtbot, window, "5")
    with StudyFile(study_path) as study:
        first = study.order("dr-ann")[0]
        assert study.answers_of("dr-ann")[first, "rl"] == 5


def test_nothing_on_screen_tells_the_arm(qtbot, window, study_path):
    with StudyFile(study_path) as study:
        sources = [row["source"] for row in study.case_table()]
        blobs = {study.case_code(c): study.image_bytes(c) for c in study.case_ids()}
    forbidden = [
        *ARMS,
        "pathogan",
        "baseline",
        "vessels",
        "synthetic",
        "640",
        "400",
        "512",
        *sources,
        str(study_path.parent),
    ]
    for step in range(len(window.session.order)):
        texts = [window.windowTitle()]
        for widget in [window, *window.findChildren(QWidget)]:
            texts += [
                widget.toolTip(),
                widget.statusTip(),
                widget.whatsThis(),
                widget.accessibleName(),
                widget.accessibleDescription(),
                widget.windowTitle(),
            ]
            if isinstance(widget, (QLabel, QAbstractButton)):
                texts.append(widget.text())
        joined = "\n".join(texts).lower()
        for leak in forbidden:
            assert leak.lower() not in joined, f"{leak!r} is on screen at step {step}"
        # the pixels shown are the study's re-encoded image, 256 px square for every arm
        code = window.code_label.text().removeprefix("Case ")
        expected = cv2.cvtColor(cv2.imdecode(np.frombuffer(blobs[code], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert window.image.image.shape == (256, 256, 3)
        assert np.array_equal(window.image.image, expected)
        key(qtbot, window, "3")
        key(qtbot, window, Qt.Key.Key_Tab)
        key(qtbot, window, "3")
        key(qtbot, window, Qt.Key.Key_Tab)


def test_locked_study_says_the_answer_was_not_saved(qtbot, window, study_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    with StudyFile(study_path) as other:
        other.lock()
    key(qtbot, window, "4")
    assert shown and "locked" in shown[0]
    assert window.boxes[0].group.checkedId() == -1


def test_reopening_resumes_where_the_rater_stopped(qtbot, study_path):
    with StudyFile(study_path) as study:
        session = RatingSession(study, "dr-bob")
        for position in range(3):
            session.answer(position, "rl", 2)
            session.answer(position, "rnfld", 3)
        session.answer(3, "rl", 4)
        win = RatingWindow(session)
        qtbot.addWidget(win)
        assert win.position == 3 and win.focused == 1  # the open question of the first unfinished case
        assert win.progress.value() == 3


KILLED_RATER = textwrap.dedent(
    """
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from fundus_viewer.gui.rating_window import open_rating

    app = QApplication([])
    window = open_rating(sys.argv[1], "dr-kill")
    window.show()
    window.answer_committed.connect(
        lambda pos, key, score: print("ANSWER", window.session.order[pos], key, score, flush=True)
    )
    keys = []
    for i in range(1000):
        keys += [str(1 + i % 5), Qt.Key.Key_Tab, str(1 + (i + 2) % 5), Qt.Key.Key_Tab]
    def press():
        k = keys.pop(0)
        QTest.keyClicks(window, k) if isinstance(k, str) else QTest.keyClick(window, k)
    timer = QTimer(interval=20, timeout=press)
    timer.start()
    app.exec()
    """
)


def test_rater_killed_mid_study_loses_nothing(study_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RATER, str(study_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[1],
    )
    given = []
    try:
        while len(given) < 7:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if line.startswith("ANSWER"):
                _, case, question, score = line.split()
                given.append((int(case), question, int(score)))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with StudyFile(study_path) as study:
        answers = study.answers_of("dr-kill")
        for case, question, score in given:
            assert answers[case, question] == score
        # reopening resumes at the first unfinished case: the fourth answer opened case 2 (index 1)
        assert study.resume_position("dr-kill") >= len(given) // 2


def test_active_clock_counts_gaps_up_to_idle_and_nothing_while_away():
    from fundus_viewer.core.study.timing import ActiveClock

    now = [100.0]
    clock = ActiveClock(idle=60.0, clock=lambda: now[0])
    for step in (5.0, 10.0, 500.0):  # the last gap: the rater walked away, 60 s of it count
        now[0] += step
        clock.touch()
    clock.pause()
    now[0] += 1000.0  # another window: nothing counts
    clock.resume()
    now[0] += 2.0
    assert clock.seconds() == pytest.approx(5 + 10 + 60 + 2)
    clock.restart()
    assert clock.seconds() == 0.0


def test_an_answer_records_the_active_seconds_on_its_case(qtbot, window, study_path):
    from fundus_viewer.core.study.timing import ActiveClock

    now = [0.0]
    window.clock = ActiveClock(idle=60.0, clock=lambda: now[0])
    now[0] = 12.0
    qtbot.keyClick(window, Qt.Key.Key_Plus)  # zoom: an action on the case
    now[0] = 400.0  # then idle for minutes before answering
    qtbot.keyClick(window, "3")
    with StudyFile(study_path) as study:
        [seconds] = [r.seconds_on_case for r in study.all_answers()]
    assert seconds == pytest.approx(12 + 60)


def test_zooms_are_counted_per_case_keys_and_wheel_bursts_alike(qtbot, window, study_path):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    def wheel():
        viewport = window.view.viewport()
        centre = QPointF(viewport.width() / 2, viewport.height() / 2)
        event = QWheelEvent(
            centre,
            viewport.mapToGlobal(centre),
            QPoint(),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(viewport, event)

    qtbot.keyClick(window, Qt.Key.Key_Plus)
    qtbot.keyClick(window, Qt.Key.Key_0)
    wheel(), wheel(), wheel()  # one turn of the wheel: one zoom
    window._last_wheel -= 10  # a second turn, later
    wheel()
    qtbot.keyClick(window, "2")
    qtbot.keyClick(window, Qt.Key.Key_Tab)
    qtbot.keyClick(window, "4")
    qtbot.keyClick(window, Qt.Key.Key_Tab)  # next case: its count starts again
    qtbot.keyClick(window, "1")
    with StudyFile(study_path) as study:
        zooms = [(r.case_id, r.question, r.zooms) for r in study.all_answers()]
        first, second = RatingSession(study, "dr-ann").order[:2]
    assert sorted(zooms) == sorted([(first, "rl", 4), (first, "rnfld", 4), (second, "rl", 0)])


def test_the_real_or_synthetic_screen_asks_the_call_then_how_sure(qtbot, tmp_path):
    real = write_arm(tmp_path / "real", "photo", 2, size=(300, 360))
    gan = write_arm(tmp_path / "gan", "gan", 2, size=(300, 360), seed=8)
    path = tmp_path / "ros.fvstudy"
    create_study(
        path, {"real": sorted(real.iterdir()), "patho-gan": sorted(gan.iterdir())}, size=128, task="real-or-synthetic"
    ).close()
    with StudyFile(path) as study:
        win = RatingWindow(RatingSession(study, "ann"))
        qtbot.addWidget(win)
        win.show()
        labels = [b.text() for b in win.boxes[0].group.buttons()]
        assert labels == ["1\nreal", "2\nsynthetic"] and len(win.boxes[1].group.buttons()) == 3
        assert any("1-3 answer" in w.text() for w in win.findChildren(QLabel))
        qtbot.keyClick(win, "3")  # no such call: nothing stored
        qtbot.keyClick(win, "2")
        qtbot.keyClick(win, Qt.Key.Key_Tab)
        qtbot.keyClick(win, "3")
        assert win.session.answers(0) == {"call": 2, "confidence": 3}
        win.close()
