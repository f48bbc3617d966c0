"""Sealed rater copies: nothing of an arm in the bytes, rating a copy and merging equals rating the
study, merging twice adds nothing, tampered or foreign copies are refused, a kill loses no answer."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fundus_viewer.core.study.create import create_study
from fundus_viewer.core.study.rater_copy import make_rater_copy, merge_rater_copy
from fundus_viewer.core.study.report import analyze_study
from fundus_viewer.core.study.store import RatingSession, StudyError, StudyFile
from tests.test_study import write_arm

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ("patho-gan", "pathogan", "baseline", "vessels", "PAIRKEY")


@pytest.fixture
def arms(tmp_path):
    gan = write_arm(tmp_path / "patho-gan", "pathogan_vessels_PAIRKEY", 4, size=(512, 512))
    base = write_arm(tmp_path / "baseline", "baseline_vessels_PAIRKEY", 4, size=(400, 640), seed=10)
    return {"patho-gan": sorted(gan.iterdir()), "baseline": sorted(base.iterdir())}


def study(tmp_path, arms, name="study.fvstudy"):
    return create_study(tmp_path / name, arms, size=64, pair_by=r"_(\d+)$", repeats=2, seed=3)


def score_of(image: bytes, question: str) -> int:
    """A rater who scores by what they see: the same image gets the same score in any file."""
    return hashlib.sha256(image + question.encode()).digest()[0] % 5 + 1


def rate_all(session: RatingSession) -> None:
    for position in range(len(session.order)):
        for q in session.questions:
            session.answer(position, q.key, score_of(session.image(position), q.key), seconds_on_case=1.5)


def test_a_rater_copy_holds_nothing_an_arm_could_be_read_from(tmp_path, arms):
    with study(tmp_path, arms) as master:
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
        order = master.order("ann")
    raw = path.read_bytes()
    for secret in (*SECRETS, str(tmp_path)):
        assert secret.encode() not in raw, secret
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for row in db.execute(f"SELECT * FROM {table}"):
            for value in row:
                if isinstance(value, str):
                    assert not any(s in value for s in SECRETS), (table, value)
    cases = db.execute("SELECT case_id, code, arm, pair_key, source, repeat_of FROM cases ORDER BY rowid").fetchall()
    assert [c[0] for c in cases] == list(range(1, len(order) + 1))  # numbered and stored in the rater's own order
    assert {c[2:] for c in cases} == {("", None, "", None)}
    assert db.execute("SELECT case_id FROM orders ORDER BY position").fetchall() == [
        (i,) for i in range(1, len(order) + 1)
    ]
    assert db.execute("SELECT name FROM raters").fetchall() == [("ann",)]
    assert "rater_copies" not in tables


def test_rating_a_copy_then_merging_equals_rating_the_study(tmp_path, arms):
    direct = study(tmp_path / "a", arms)
    rate_all(RatingSession(direct, "ann"))
    expected = analyze_study(direct).to_dict()
    with direct, study(tmp_path / "b", arms) as master:
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
        with StudyFile(path) as copy:
            rate_all(RatingSession(copy, "ann"))
            with pytest.raises(StudyError, match="rater copy"):
                RatingSession(copy, "bob")  # one rater's file
        report = merge_rater_copy(master, path)
        assert (report.new, report.changed, report.unchanged) == (len(master.order("ann")) * 2, 0, 0)
        assert master.answers_of("ann") == direct.answers_of("ann")  # same seed, same case numbers: answer for answer
        assert analyze_study(master).to_dict() == expected
        again = merge_rater_copy(master, path)
        assert (again.new, again.changed) == (0, 0) and again.unchanged == report.new
        assert analyze_study(master).to_dict() == expected


def test_tampered_and_foreign_copies_are_refused(tmp_path, arms):
    with study(tmp_path / "a", arms) as master, study(tmp_path / "b", arms) as other:
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
        foreign = make_rater_copy(other, "ann", tmp_path / "other.fvstudy")
        with pytest.raises(StudyError, match="another study"):
            merge_rater_copy(master, foreign)
        db = sqlite3.connect(path)
        first, second = db.execute("SELECT image FROM cases WHERE case_id IN (1, 2) ORDER BY case_id").fetchall()
        db.execute("UPDATE cases SET image = ? WHERE case_id = 1", second)  # case 1 now shows case 2's image
        db.execute("UPDATE cases SET image = ? WHERE case_id = 2", first)
        db.execute("INSERT INTO answers VALUES (1, 1, 1, 5, '2030-01-01', NULL, NULL)")
        db.commit()
        db.close()
        with pytest.raises(StudyError, match="changed after it was made"):
            merge_rater_copy(master, path)
        assert master.answers_of("ann") == {}  # nothing merged


def test_a_sigkill_while_rating_a_copy_loses_no_answer_given(tmp_path, arms):
    with study(tmp_path, arms) as master:
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
    script = textwrap.dedent(f"""
        import sys
        from fundus_viewer.core.study.store import RatingSession, StudyFile
        session = RatingSession(StudyFile({str(path)!r}), "ann")
        for position in range(len(session.order)):
            session.answer(position, "rl", 1 + position % 5)
            print(position, flush=True)
        import time; time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    given = []
    while len(given) < 5:
        given.append(int(process.stdout.readline()))
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(0.1)
    with StudyFile(path) as copy:
        answers = copy.answers_of("ann")
    assert all((position + 1, "rl") in answers for position in given)  # copy case n is position n - 1


def test_rater_copy_and_merge_on_the_command_line(tmp_path, arms, capsys):
    from fundus_viewer.cli.main import main

    study(tmp_path, arms).close()
    master, copy = tmp_path / "study.fvstudy", tmp_path / "ann.fvstudy"
    assert main(["study", "rater-copy", str(master), "--rater", "ann", "--out", str(copy)]) == 0
    with StudyFile(copy) as opened:
        RatingSession(opened, "ann").answer(0, "rl", 4)
    assert main(["study", "merge", str(master), str(copy)]) == 0
    assert "ann: 1 new answer(s), 0 changed, 0 already here" in capsys.readouterr().out
    assert main(["study", "analyze", str(copy)]) == 2  # a copy has no arms to analyse
    assert "is a rater copy" in capsys.readouterr().err


def test_a_copy_made_after_answers_on_site_still_hides_the_study_numbers(tmp_path, arms):
    with study(tmp_path, arms) as master:
        session = RatingSession(master, "ann")
        for position in range(len(session.order)):
            session.answer(position, "rl", 3)
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
    db = sqlite3.connect(path)
    cases = [row[0] for row in db.execute("SELECT case_id FROM answers ORDER BY rowid")]
    assert cases == sorted(cases)  # in copy order, not in the study's case order
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0


def test_a_change_made_in_the_copy_comes_home_and_its_history_too(tmp_path, arms):
    with study(tmp_path, arms) as master:
        RatingSession(master, "ann").answer(0, "rl", 2)
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
        with StudyFile(path) as copy:
            session = RatingSession(copy, "ann")
            session.answer(0, "rl", 4)
            session.answer(0, "rl", 5)
        report = merge_rater_copy(master, path)
        assert (report.new, report.changed, report.conflicts) == (0, 1, 0)
        first = master.order("ann")[0]
        assert master.answers_of("ann")[(first, "rl")] == 5
        log = [
            r[0] for r in master.db.execute("SELECT score FROM answer_log WHERE case_id = ? ORDER BY log_id", (first,))
        ]
        assert log == [2, 4, 5]
        assert (
            merge_rater_copy(master, path).changed == 0
            and len(master.db.execute("SELECT * FROM answer_log").fetchall()) == 3
        )


def test_a_copy_for_an_unknown_copy_or_another_rater_or_a_locked_study_is_refused(tmp_path, arms):
    with study(tmp_path, arms) as master:
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
        db = sqlite3.connect(path)
        db.execute("INSERT INTO raters VALUES (2, 'bob', 0, 'now')")
        db.commit()
        with pytest.raises(StudyError, match="another rater"):
            merge_rater_copy(master, path)
        db.execute("DELETE FROM raters WHERE rater_id = 2")
        db.execute("UPDATE meta SET value = 'f00d' WHERE key = 'copy_id'")
        db.commit()
        db.close()
        with pytest.raises(StudyError, match="no such rater copy"):
            merge_rater_copy(master, path)
        good = make_rater_copy(master, "cy", tmp_path / "cy.fvstudy")
        master.lock()
        with pytest.raises(StudyError, match="locked"):
            merge_rater_copy(master, good)
        with pytest.raises(StudyError, match="locked"):
            make_rater_copy(master, "dee", tmp_path / "dee.fvstudy")


def test_a_real_or_synthetic_copy_names_no_synthetic_arm_and_no_task_settings(tmp_path, arms):
    real = write_arm(tmp_path / "photos", "photo_PAIRKEY", 3, size=(300, 360), seed=30)
    with create_study(
        tmp_path / "ros.fvstudy",
        {"fundus-photos": sorted(real.iterdir()), **arms},
        size=64,
        task="real-or-synthetic",
        real_arm="fundus-photos",
    ) as master:
        path = make_rater_copy(master, "ann", tmp_path / "ann.fvstudy")
    raw = path.read_bytes()
    for secret in (*SECRETS, "fundus-photos", "photo_", "real_arm", str(tmp_path)):
        assert secret.encode() not in raw, secret
    with StudyFile(path) as copy:
        assert copy.settings == {} and [q.key for q in copy.questions] == ["call", "confidence"]
