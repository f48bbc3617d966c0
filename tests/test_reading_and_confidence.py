"""Reading time and zooms per arm, the optional confidence question, and studies made before zooms were
recorded (schema 2): they keep working, unchanged."""

from __future__ import annotations

import sqlite3

import pytest

from fundus_viewer.core.study.create import create_study
from fundus_viewer.core.study.rater_copy import copy_rater, make_rater_copy, merge_rater_copy
from fundus_viewer.core.study.reading import reading_times
from fundus_viewer.core.study.report import analyze_study
from fundus_viewer.core.study.store import AnswerRow, RatingSession, StudyFile
from tests.test_study import write_arm


def row(rater, case, arm, question, seconds, zooms=None, repeat_of=None):
    return AnswerRow(rater, case, f"{case:03d}", arm, None, repeat_of, "", question, 3, "t", seconds, zooms)


def test_reading_time_per_arm_takes_each_readings_last_answer_and_skips_repeats():
    rows = [
        row("ann", 1, "a", "rl", 4.0, 0),
        row("ann", 1, "a", "rnfld", 10.0, 2),  # one reading: 10 s, 2 zooms
        row("ann", 2, "a", "rl", 20.0, 0),
        row("bob", 1, "a", "rl", 30.0, 1),  # bob's reading of case 1 is his own
        row("ann", 3, "b", "rl", 5.0, 0),
        row("ann", 4, "b", "rl", 7.0, 0),
        row("ann", 5, "b", "rl", 900.0, 9, repeat_of=3),  # a repeat: never counted
    ]
    summaries, comparisons = reading_times(rows, ["a", "b"])
    a, b = summaries
    assert (a.arm, a.n, a.median_seconds, a.mean_seconds, a.iqr_seconds) == ("a", 3, 20.0, 20.0, (15.0, 25.0))
    assert (a.mean_zooms, a.n_zoomed) == (pytest.approx(1.0), 2)
    assert (b.n, b.mean_seconds, b.mean_zooms, b.n_zoomed) == (2, 6.0, 0.0, 0)
    [c] = comparisons
    assert (c.arm_a, c.arm_b, c.mann_whitney_u) == ("a", "b", 6.0)  # every a reading is longer than every b


def test_confidence_is_asked_after_the_scores_and_summarised_per_arm(tmp_path):
    arms = {
        "patho-gan": sorted(write_arm(tmp_path / "g", "g", 3, size=(200, 240)).iterdir()),
        "baseline": sorted(write_arm(tmp_path / "b", "b", 3, size=(200, 240), seed=4).iterdir()),
    }
    calibration = write_arm(tmp_path / "cal", "cal", 1, size=(200, 240), seed=9)
    (calibration / "reference.csv").write_text("file,rl,rnfld\ncal_00.png,4,2\n")  # no reference for how sure
    with create_study(tmp_path / "s.fvstudy", arms, size=48, confidence=True, calibration=calibration) as study:
        assert [q.key for q in study.questions] == ["rl", "rnfld", "confidence"] and study.settings[
            "confidence_question"
        ] == "confidence"
        session = RatingSession(study, "ann")
        for position in range(len(session.order)):
            arm = study.case_table()[session.order[position] - 1]["arm"]
            for key, score in (("rl", 3), ("rnfld", 3), ("confidence", 3 if arm == "patho-gan" else 1)):
                session.answer(position, key, score, seconds_on_case=8.0 if arm == "patho-gan" else 2.0, zooms=1)
        analysis = analyze_study(study)
    means = {(s.question, s.arm): s.mean for s in analysis.summaries}
    assert means["confidence", "patho-gan"] == 3.0 and means["confidence", "baseline"] == 1.0
    assert {r.arm: r.median_seconds for r in analysis.reading} == {"patho-gan": 8.0, "baseline": 2.0}


def old_schema(path):
    """Turn a study into one made before zooms were recorded (schema 2)."""
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE answers DROP COLUMN zooms")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()


def test_a_study_from_before_zooms_is_rated_copied_and_merged_unchanged(tmp_path):
    arms = {
        "a": sorted(write_arm(tmp_path / "a", "a", 2, size=(200, 240)).iterdir()),
        "b": sorted(write_arm(tmp_path / "b", "b", 2, size=(200, 240), seed=3).iterdir()),
    }
    path = tmp_path / "old.fvstudy"
    create_study(path, arms, size=48).close()
    old_schema(path)
    with StudyFile(path) as study:
        assert not study.has_zooms
        RatingSession(study, "ann").answer(0, "rl", 4, seconds_on_case=3.0, zooms=5)  # the count has nowhere to go
        copy = make_rater_copy(study, "bob", tmp_path / "bob.fvstudy")
    assert copy_rater(copy) == "bob" and copy_rater(path) is None
    with StudyFile(copy) as rated:
        assert rated.has_zooms  # a copy is written by this program
        RatingSession(rated, "bob").answer(0, "rl", 2, seconds_on_case=6.0, zooms=3)
    with StudyFile(path) as study:
        merge_rater_copy(study, copy)
        assert study.meta("schema_version") == "2" and not study.has_zooms  # never upgraded behind its owner
        answers = {(r.rater, r.question): (r.score, r.seconds_on_case, r.zooms) for r in study.all_answers()}
        assert answers == {("ann", "rl"): (4, 3.0, None), ("bob", "rl"): (2, 6.0, None)}
        assert analyze_study(study).reading


def test_zooms_go_to_a_rater_copy_and_come_back(tmp_path):
    arms = {
        "a": sorted(write_arm(tmp_path / "a", "a", 2, size=(200, 240)).iterdir()),
        "b": sorted(write_arm(tmp_path / "b", "b", 2, size=(200, 240), seed=3).iterdir()),
    }
    with create_study(tmp_path / "s.fvstudy", arms, size=48) as study:
        RatingSession(study, "ann").answer(0, "rl", 4, zooms=2)
        copy = make_rater_copy(study, "ann", tmp_path / "ann.fvstudy")
    with StudyFile(copy) as rated:
        assert [r.zooms for r in rated.all_answers()] == [2]
        RatingSession(rated, "ann").answer(1, "rl", 5, zooms=7)
    with StudyFile(tmp_path / "s.fvstudy") as study:
        merge_rater_copy(study, copy)
        assert sorted(r.zooms for r in study.all_answers()) == [2, 7]
