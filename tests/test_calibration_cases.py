"""Calibration cases: shown first to every rater, their reference scores revealed after each answer,
never in the statistics; carried into rater copies."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt

from fundus_viewer.core.study.create import create_study
from fundus_viewer.core.study.rater_copy import make_rater_copy
from fundus_viewer.core.study.report import analyze_study, write_answers_csv
from fundus_viewer.core.study.store import RatingSession, StudyError, StudyFile
from tests.test_study import write_arm


@pytest.fixture
def arms(tmp_path):
    return {
        "patho-gan": sorted(write_arm(tmp_path / "g", "g", 3).iterdir()),
        "baseline": sorted(write_arm(tmp_path / "b", "b", 3, seed=9).iterdir()),
    }


@pytest.fixture
def calibration(tmp_path):
    folder = write_arm(tmp_path / "calibration", "cal", 2, seed=40)
    (folder / "reference.csv").write_text("file,rl,rnfld\ncal_00.png,5,1\ncal_01.png,2,4\n")
    return folder


def test_calibration_comes_first_and_never_reaches_the_statistics(tmp_path, arms, calibration):
    with create_study(tmp_path / "s.fvstudy", arms, size=64, seed=4, calibration=calibration) as study:
        assert study.meta("schema_version") == "3" and study.arms() == ["patho-gan", "baseline"]
        references = {c: study.reference(c) for c in study.calibration_ids()}
        assert sorted(references.values(), key=lambda r: r["rl"]) == [{"rl": 2, "rnfld": 4}, {"rl": 5, "rnfld": 1}]
        for rater in ("ann", "bob"):
            session = RatingSession(study, rater)
            assert set(session.order[:2]) == set(references)  # every rater starts with them
            for position in range(2, len(session.order)):
                for q in session.questions:
                    session.answer(position, q.key, 1 + (position + len(rater)) % 5)
        before = analyze_study(study).to_dict()
        for rater in ("ann", "bob"):
            session = RatingSession(study, rater)
            for position in range(2):
                for q in session.questions:
                    session.answer(position, q.key, 5)
        assert analyze_study(study).to_dict() == before  # calibration answers change nothing
        write_answers_csv(study, tmp_path / "answers.csv")
    with open(tmp_path / "answers.csv", newline="") as stream:
        arms_in_csv = [row["arm"] for row in csv.DictReader(stream)]
    assert arms_in_csv.count("calibration") == 2 * 2 * 2  # kept for the record


def test_bad_calibration_folders_get_messages(tmp_path, arms, calibration):
    (calibration / "reference.csv").write_text("file,rl,rnfld\ncal_00.png,5,1\ncal_01.png,9,4\n")
    with pytest.raises(StudyError, match="out of range for rl"):
        create_study(tmp_path / "a.fvstudy", arms, size=64, calibration=calibration)
    (calibration / "reference.csv").write_text("file,rl,rnfld\ncal_00.png,5,1\n")
    with pytest.raises(StudyError, match="no reference scores for cal_01.png"):
        create_study(tmp_path / "b.fvstudy", arms, size=64, calibration=calibration)
    with pytest.raises(StudyError, match="kept for calibration"):
        create_study(tmp_path / "c.fvstudy", {**arms, "calibration": arms["baseline"]}, size=64)
    assert not list(tmp_path.glob("*.fvstudy"))


def test_the_screen_reveals_the_reference_after_each_answer_and_a_copy_keeps_it(qtbot, tmp_path, arms, calibration):
    from fundus_viewer.gui.rating_window import RatingWindow

    with create_study(tmp_path / "s.fvstudy", arms, size=64, seed=4, calibration=calibration) as study:
        copy = make_rater_copy(study, "ann", tmp_path / "ann.fvstudy")
        first = study.reference(study.order("ann")[0])
    with StudyFile(copy) as opened:
        session = RatingSession(opened, "ann")
        assert session.reference(0) == first and session.reference(2) == {}
        window = RatingWindow(session)
        qtbot.addWidget(window)
        window.show()
        assert "calibration" in window.code_label.text()
        qtbot.keyClick(window, "3")
        text = window.message.text()
        assert f"RL: reference {first['rl']}" in text and "yours 3" in text and "RNFLD" not in text.split("\n", 1)[1]
        window.close()


def test_an_older_studys_arm_named_calibration_is_still_analysed(tmp_path):
    from fundus_viewer.core.study.create import prepare_image
    from fundus_viewer.core.study.store import NewCase
    from tests.conftest import synthetic_fundus

    cases = [
        NewCase(prepare_image(synthetic_fundus(seed=i), 64), arm, f"{arm}{i}.png")
        for i, arm in enumerate(["treated", "calibration"] * 2)
    ]
    with StudyFile.create(
        tmp_path / "old.fvstudy", cases, seed=1
    ) as study:  # no reference scores: no calibration cases
        assert study.arms() == ["calibration", "treated"] and study.calibration_ids() == []
        session = RatingSession(study, "ann")
        for position in range(4):
            session.answer(position, "rl", 3)
        assert len(study.all_answers()) == 4


def test_reading_time_ignores_other_windows(qtbot, tmp_path, arms):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication, QWidget

    from fundus_viewer.core.study.timing import ActiveClock
    from fundus_viewer.gui.rating_window import RatingWindow

    with create_study(tmp_path / "s.fvstudy", arms, size=64, seed=4) as study:
        window = RatingWindow(RatingSession(study, "ann"))
        other = QWidget()
        qtbot.addWidget(window)
        qtbot.addWidget(other)
        window.show()
        other.show()
        now = [0.0]
        window.clock = ActiveClock(idle=60.0, clock=lambda: now[0])
        for t in (30.0, 60.0, 90.0):  # someone works in another window
            now[0] = t
            move = QMouseEvent(
                QEvent.Type.MouseMove,
                QPointF(5, 5),
                QPointF(5, 5),
                Qt.MouseButton.NoButton,
                Qt.MouseButton.NoButton,
                Qt.KeyboardModifier.NoModifier,
            )
            QApplication.sendEvent(other, move)
        assert window.clock.total == 0.0
        window.close()
