"""Issue #19, the study's part: what a damaged, full, read-only, crashed or tampered study file does.

Each test crafts the fault itself (a flipped byte, ``PRAGMA max_page_count``, a read-only connection, a
child killed inside a write, an ``UPDATE meta``) and checks the user is told, in one line or one dialog,
and that nothing is stored for a case the rater never saw.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from fundus_viewer.cli.main import main
from fundus_viewer.core.study.store import NewCase, RatingSession, StudyError, StudyFile
from fundus_viewer.gui.rating_window import RatingWindow

ROOT = Path(__file__).resolve().parents[1]


def png(seed: int, size: int = 32) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    return cv2.imencode(".png", rgb)[1].tobytes()


@pytest.fixture
def study_path(tmp_path) -> Path:
    cases = [NewCase(png(i), ("a", "b")[i % 2], f"s{i}.png") for i in range(4)]
    path = tmp_path / "study.fvstudy"
    StudyFile.create(path, cases, seed=4).close()
    return path


def flip_inside(path: Path, blob: bytes, offset: int | None = None) -> None:
    """Flip one byte inside ``blob`` where it lies in the file (the middle of it by default)."""
    data = bytearray(path.read_bytes())
    start = data.find(blob)
    assert start >= 0 and data.find(blob, start + 1) < 0
    data[start + (len(blob) // 2 if offset is None else offset)] ^= 0x5A
    path.write_bytes(bytes(data))


def open_window(qtbot, study, rater="dr-ann") -> RatingWindow:
    window = RatingWindow(RatingSession(study, rater))
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


# -- item 1: a case whose image cannot be shown is never answered -----------------------------------
def test_a_damaged_image_is_reported_and_skipped_never_answered(qtbot, study_path):
    with StudyFile(study_path) as study:
        order = study.order("dr-ann")
        damaged, before = order[1], study.image_bytes(order[0])
        flip_inside(study_path, study.image_bytes(damaged))
    with StudyFile(study_path) as study:
        window = open_window(qtbot, study)
        for k in ("3", Qt.Key.Key_Tab, "3", Qt.Key.Key_Tab):  # the first case, then on to the damaged one
            qtbot.keyClick(window, k) if not isinstance(k, str) else qtbot.keyClicks(window, k)
        assert window.position == 1
        assert "cannot be shown" in window.message.text() and window.session.code(1) in window.message.text()
        shown = window.image.image
        first = cv2.cvtColor(cv2.imdecode(np.frombuffer(before, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert shown is None or not np.array_equal(shown, first)  # not the previous case's picture
        qtbot.keyClicks(window, "4")
        window.boxes[0].group.button(2).click()
        assert study.answers_of("dr-ann").get((damaged, "rl")) is None
        qtbot.keyClick(window, Qt.Key.Key_Right)  # skipped: on to the next image
        assert window.position == 2 and window.image.image is not None
        window.close()
    with StudyFile(study_path) as study:  # restarting there: no crash, the same report
        again = open_window(qtbot, study)
        assert again.position == 1 and "cannot be shown" in again.message.text()
        again.close()


def test_a_damaged_image_fails_its_checksum_in_the_core(study_path):
    with StudyFile(study_path) as study:
        case = study.case_ids()[2]
        flip_inside(study_path, study.image_bytes(case))
    with StudyFile(study_path) as study, pytest.raises(StudyError, match=r"study.fvstudy.*damaged"):
        study.image_bytes(case)


# -- item 2: a full disk or a read-only file: told it was not saved, shown what is stored ----------
def test_a_full_disk_while_rating_says_not_saved_and_shows_what_is_stored(qtbot, study_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    with StudyFile(study_path) as study:
        window = open_window(qtbot, study)
        qtbot.keyClicks(window, "2")  # saved
        pages = study.db.execute("PRAGMA page_count").fetchone()[0]
        study.db.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: a full disk to SQLite
        case = window.session.order[0]
        for score in "54" * 200:  # the log grows with every answer until the file is full
            qtbot.keyClicks(window, score)
            if shown:
                break
        assert shown and "not" in shown[0] and "full" in shown[0] and "study.fvstudy" in shown[0]
        stored = study.answers_of("dr-ann")[case, "rl"]
        assert window.boxes[0].group.checkedId() == stored  # the screen shows what the file holds
        window.close()


def test_a_read_only_study_says_the_answer_was_not_saved(qtbot, study_path, monkeypatch):
    with StudyFile(study_path) as study:
        RatingSession(study, "dr-ann").answer(0, "rl", 2)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    with StudyFile(study_path, readonly=True) as study:  # mode=ro: refuses writes the way a read-only file does
        window = open_window(qtbot, study)
        qtbot.keyClicks(window, "4")
        assert shown and "read-only" in shown[0] and "not recorded" in shown[0] and "study.fvstudy" in shown[0]
        assert window.boxes[0].group.checkedId() == 2
        window.close()


def test_lock_on_a_read_only_file_is_one_line(study_path, monkeypatch, capsys):
    import fundus_viewer.core.study.store as store

    real = store.file_uri
    monkeypatch.setattr(store, "file_uri", lambda path, readonly=False: real(path, True))
    assert main(["study", "lock", str(study_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and "study.fvstudy" in err[0] and "read-only" in err[0]


# -- item 4: a hot journal left by a crash does not make read-only tools refuse a good study --------
KILLED_WRITER = textwrap.dedent(
    """
    import os, sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # the store's rollback journal
    db.execute("PRAGMA cache_size = 1")  # pages spill into the file before COMMIT, as a slow fsync leaves them
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE cases SET image = randomblob(200000)")
    db.execute("INSERT INTO meta VALUES ('half-written', 'x')")
    os._exit(9)  # killed before COMMIT: the journal stays, hot
    """
)


def test_a_hot_journal_is_rolled_back_by_the_read_only_tools(study_path, capsys):
    with StudyFile(study_path) as study:
        RatingSession(study, "dr-ann").answer(0, "rl", 3)
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(study_path)], check=False)
    journal = study_path.with_name(study_path.name + "-journal")
    assert journal.stat().st_size > 0
    assert main(["study", "status", str(study_path)]) == 0, capsys.readouterr().err
    assert "dr-ann: 0 of 4" in capsys.readouterr().out
    assert not journal.exists()
    with StudyFile(study_path, readonly=True) as study:
        assert study.meta("half-written") is None and study.image_bytes(study.case_ids()[0]).startswith(b"\x89PNG")


# -- item 10: the windowed screen keeps every key; its dialogs keep the default, readable style ------
def test_the_windowed_screen_keeps_the_first_tab(qtbot, study_path):
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from fundus_viewer.gui.rating_window import open_rating, show_windowed

    window = open_rating(study_path, "dr-ann")
    qtbot.addWidget(window)
    show_windowed(window)  # as `study rate --windowed` shows it
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)  # where the window system puts it
    for k in ("3", Qt.Key.Key_Tab, "4", Qt.Key.Key_Tab):  # typed where Qt's focus is, as a keyboard does
        target = QApplication.focusWidget() or window
        QTest.keyClicks(target, k) if isinstance(k, str) else QTest.keyClick(target, k)
    case = window.session.order[0]
    assert window.session.study.answers_of("dr-ann") == {(case, "rl"): 3, (case, "rnfld"): 4}
    assert window.position == 1
    window.close()


def test_the_rating_screens_dialogs_keep_the_default_readable_style(qtbot, study_path):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QLabel, QPushButton

    with StudyFile(study_path) as study:
        window = open_window(qtbot, study)
        box = QMessageBox(QMessageBox.Icon.Critical, "Answer not saved", "the disk is full", parent=window)
        box.show()
        qtbot.waitExposed(box)
        default = QMessageBox(QMessageBox.Icon.Critical, "Answer not saved", "the disk is full")
        default.show()
        qtbot.waitExposed(default)
        for kind in (QLabel, QPushButton):
            ours = [w.palette().color(QPalette.ColorRole.WindowText).name() for w in box.findChildren(kind)]
            plain = [w.palette().color(QPalette.ColorRole.WindowText).name() for w in default.findChildren(kind)]
            assert ours == plain and "#e8e8e8" not in ours
        assert box.findChild(QLabel, "qt_msgbox_label").palette().color(QPalette.ColorRole.Window).name() == (
            default.findChild(QLabel, "qt_msgbox_label").palette().color(QPalette.ColorRole.Window).name()
        )
        # the screen itself keeps its dark style
        assert window.code_label.palette().color(QPalette.ColorRole.WindowText).name() == "#e8e8e8"
        box.close(), default.close(), window.close()


# -- item 11: a lock that is seen when undone, a rater name not reused by accident -------------------
def answered(study_path: Path, rater: str = "dr-a", n: int = 2) -> None:
    with StudyFile(study_path) as study:
        session = RatingSession(study, rater)
        for position in range(n):
            session.answer(position, "rl", 3)
            session.answer(position, "rnfld", 2)


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        ("UPDATE meta SET value = '0' WHERE key = 'locked'", "unlocked"),
        ("UPDATE answers SET score = 5 WHERE rowid = 1", "changed after it was locked"),
        ("DELETE FROM answer_log WHERE log_id = 1", "changed after it was locked"),
        ("UPDATE cases SET image = x'00', code = 'x' WHERE case_id = 1", "changed after it was locked"),
        ("UPDATE case_digests SET sha256 = 'f00' WHERE case_id = 1", "changed after it was locked"),
        ("UPDATE cases SET arm = CASE arm WHEN 'a' THEN 'b' ELSE 'a' END", "changed after it was locked"),
        ("UPDATE cases SET repeat_of = 2 WHERE case_id = 1", "changed after it was locked"),
        ("UPDATE cases SET pair_key = 'p' WHERE case_id = 1", "changed after it was locked"),
        ("INSERT INTO reference_scores VALUES (1, 1, 3)", "changed after it was locked"),
        ("UPDATE orders SET case_id = 5 - case_id WHERE rater_id = 1", "changed after it was locked"),
        ("UPDATE answers SET zooms = 99", "changed after it was locked"),
        ("""UPDATE meta SET value = '{"arms": {"b": 1, "a": 1}}' WHERE key = 'settings'""", "changed after"),
        ("UPDATE meta SET value = '5' WHERE key = 'seed'", "changed after it was locked"),
        ("INSERT INTO meta VALUES ('truth', 'b')", "changed after it was locked"),
    ],
)
def test_a_lock_undone_or_answers_changed_after_it_are_reported(study_path, capsys, tamper, says):
    answered(study_path)
    assert main(["study", "lock", str(study_path)]) == 0
    digest = capsys.readouterr().out.split("digest ")[1].split()[0]
    assert main(["study", "status", str(study_path)]) == 0 and digest in capsys.readouterr().out
    assert main(["study", "analyze", str(study_path), "--json"]) == 0
    capsys.readouterr()
    with sqlite3.connect(study_path) as db:  # one statement, as anyone with sqlite3 could
        db.execute(tamper)
    for command in ("analyze", "status"):
        assert main(["study", command, str(study_path)]) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert "error:" in last and "study.fvstudy" in last and "tampered" in last and says in last


def test_a_rater_name_with_answers_is_not_reused_without_confirming(study_path, capsys, monkeypatch):
    import fundus_viewer.gui.rating_window as rating_window

    answered(study_path, "Dr A", 2)
    opened = []
    monkeypatch.setattr(rating_window, "run_rating", lambda path, rater, fullscreen: opened.append(rater) or 0)
    assert main(["study", "rate", str(study_path), "--rater", "Dr A"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Dr A already has 4 answers in this study" in last and "--continue" in last and not opened
    assert main(["study", "rate", str(study_path), "--rater", "Dr A", "--continue"]) == 0 and opened == ["Dr A"]
    assert main(["study", "rate", str(study_path), "--rater", "Dr B"]) == 0 and opened == ["Dr A", "Dr B"]


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_the_menu_asks_before_going_on_as_a_rater_with_answers(qtbot, tiny_checkpoint, study_path, monkeypatch):
    from fundus_viewer.gui import study_dialogs
    from fundus_viewer.gui.main_window import MainWindow

    answered(study_path, "Dr A", 3)
    asked = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(study_dialogs, "ask_rater_name", lambda parent: "Dr A")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answer[0])
    window = MainWindow(str(tiny_checkpoint), "cpu")
    qtbot.addWidget(window)
    assert window.rate_study(str(study_path)) is None
    assert asked == ["Dr A already has 6 answers in this study; continue as Dr A?"]
    answer[0] = QMessageBox.StandardButton.Yes
    rating = window.rate_study(str(study_path))
    assert rating is not None and rating.session.rater == "Dr A" and len(asked) == 2
    rating.close()
    window.close()


def test_the_analysis_view_refuses_a_tampered_study(qtbot, study_path):
    from fundus_viewer.core.study.store import StudyTamperedError
    from fundus_viewer.gui.study_analysis import AnalysisWindow

    answered(study_path)
    with StudyFile(study_path) as study:
        study.lock()
    with sqlite3.connect(study_path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'locked'")
    with pytest.raises(StudyTamperedError, match="study.fvstudy.*unlocked"):
        AnalysisWindow(study_path)


# -- item 5: a damaged study file is one line naming it, for `rate` too ------------------------------
def test_rating_a_study_with_a_damaged_answers_page_is_one_line(tmp_path, capsys, qapp):
    from bad_files.study import RATER, answers_page_flip

    path = answers_page_flip(tmp_path)
    assert main(["study", "rate", str(path), "--rater", RATER, "--continue", "--windowed"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "answers-page.fvstudy" in err.strip().splitlines()[-1] and "damaged" in err


def test_a_flip_inside_an_image_passes_integrity_check_but_not_the_checksum(tmp_path):
    from bad_files.study import image_flip

    path = image_flip(tmp_path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with StudyFile(path) as study:
        assert len(study.damaged_images()) == 1


def test_a_study_made_before_checksums_still_opens_unchecked(study_path, capsys):
    with sqlite3.connect(study_path) as db:
        db.execute("DROP TABLE case_digests")  # as every study made before #19
    with StudyFile(study_path) as study:
        assert study.image_bytes(study.case_ids()[0]).startswith(b"\x89PNG") and study.damaged_images() == []
    assert main(["study", "status", str(study_path)]) == 0
    assert "images: unchecked" in capsys.readouterr().out


def test_a_study_ends_when_every_showable_image_is_rated(qtbot, study_path):
    with StudyFile(study_path) as study:
        order = study.order("dr-ann")
        flip_inside(study_path, study.image_bytes(order[1]))
    with StudyFile(study_path) as study:
        window = open_window(qtbot, study)
        with qtbot.waitSignal(window.completed, timeout=5000):
            for _ in range(len(order)):
                for k in ("2", Qt.Key.Key_Tab, "4", Qt.Key.Key_Tab):
                    qtbot.keyClick(window, k) if not isinstance(k, str) else qtbot.keyClicks(window, k)
        assert "except 1 that could not be shown" in window.message.text()
        assert {c for c, _ in study.answers_of("dr-ann")} == set(order) - {order[1]}
        window.close()


# -- review of #19: the seal, races, busy files, the GUI's guards ------------------------------------
def locked_study(study_path: Path) -> Path:
    answered(study_path)
    with StudyFile(study_path) as study:
        study.lock()
    return study_path


def test_an_image_damaged_after_the_lock_is_damage_not_tampering(study_path, capsys):
    locked_study(study_path)
    with StudyFile(study_path) as study:
        case = study.case_ids()[1]
        code = study.case_code(case)
        flip_inside(study_path, study.image_bytes(case))
    assert main(["study", "analyze", str(study_path), "--json"]) == 0
    err = capsys.readouterr().err
    assert "tampered" not in err and f"the image of case {code} is damaged" in err
    assert main(["study", "status", str(study_path)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "tampered" not in last and f"case {code} is damaged" in last


def test_a_study_locked_while_a_new_rater_joins_stays_sealed(study_path, capsys, monkeypatch):
    from fundus_viewer.core.study.store import StudyLockedError

    rater = StudyFile(study_path)
    real = StudyFile._write
    once = []

    def owner_locks_first(self):  # the owner's lock lands between the rater's check and their write
        if self is rater and not once:
            once.append(1)
            with StudyFile(study_path) as owner:
                owner.lock()
        return real(self)

    monkeypatch.setattr(StudyFile, "_write", owner_locks_first)
    with pytest.raises(StudyLockedError, match="study.fvstudy.*locked"):
        rater.rater_id("new rater")
    monkeypatch.undo()
    assert rater.raters() == []
    rater.close()
    assert main(["study", "analyze", str(study_path), "--json"]) == 0, capsys.readouterr().err


def hold_write_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_busy_file_is_not_called_damaged(study_path):
    from fundus_viewer.core.study.store import reading

    with StudyFile(study_path, readonly=True) as study:
        study.db.execute("PRAGMA busy_timeout = 100")
        other = hold_write_lock(study_path)
        try:
            with pytest.raises(StudyError) as caught, reading(study_path):
                study.image_bytes(study.case_ids()[0])
        finally:
            other.close()
    message = str(caught.value)
    assert "study.fvstudy" in message and "damaged" not in message and "locked" in message
    assert "nothing was changed" in message


def test_a_busy_read_in_the_rating_screen_is_not_a_lost_case(qtbot, study_path):
    with StudyFile(study_path) as study:
        window = open_window(qtbot, study)
        study.db.execute("PRAGMA busy_timeout = 100")
        other = hold_write_lock(study_path)
        try:
            window.show_case(1)
        finally:
            other.close()
        assert not window.showable and "busy" in window.message.text() and 1 not in window.unshowable
        window.show_case(1)  # the rater tries again: the picture is there
        assert window.showable and window.image.image is not None
        window.close()


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_the_menu_says_a_damaged_study_in_one_dialog(qtbot, tiny_checkpoint, tmp_path, monkeypatch):
    from bad_files.study import RATER, answers_page_flip

    from fundus_viewer.gui import study_dialogs
    from fundus_viewer.gui.main_window import MainWindow

    path = answers_page_flip(tmp_path)
    shown = []
    monkeypatch.setattr(study_dialogs, "ask_rater_name", lambda parent: RATER)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    window = MainWindow(str(tiny_checkpoint), "cpu")
    qtbot.addWidget(window)
    assert window.rate_study(str(path)) is None
    assert window.rate_study(str(path), RATER) is None
    assert len(shown) == 2 and all("answers-page.fvstudy" in s and "damaged" in s for s in shown)
    window.close()


def test_a_click_that_cannot_be_saved_shows_what_is_stored(qtbot, study_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    with StudyFile(study_path) as study:
        window = open_window(qtbot, study)
        window.boxes[0].group.button(2).click()  # saved
        monkeypatch.setattr(
            window.session, "answer", lambda *a: (_ for _ in ()).throw(sqlite3.DatabaseError("disk image is malformed"))
        )
        window.boxes[0].group.button(4).click()
        assert shown and "study.fvstudy" in shown[0] and "nothing was changed" in shown[0]
        assert window.boxes[0].group.checkedId() == 2
        window.close()


def test_an_unshowable_case_keeps_showing_the_answers_it_had(qtbot, study_path):
    with StudyFile(study_path) as study:
        session = RatingSession(study, "dr-ann")
        session.answer(1, "rl", 4)
        flip_inside(study_path, session.image(1))
    with StudyFile(study_path) as study:
        window = open_window(qtbot, study)
        window.show_case(1)
        assert not window.showable and window.boxes[0].group.checkedId() == 4
        window.boxes[0].group.button(2).click()
        assert (
            window.boxes[0].group.checkedId() == 4 and study.answers_of("dr-ann")[study.order("dr-ann")[1], "rl"] == 4
        )
        window.close()


class FailingDb:
    """A connection whose reads of one table fail as a damaged page would."""

    def __init__(self, db, table):
        self.db, self.table = db, table

    def execute(self, sql, *args):
        if self.table in sql:
            raise sqlite3.DatabaseError("database disk image is malformed")
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


def test_a_damaged_master_is_named_when_merging_a_copy(study_path, tmp_path):
    from fundus_viewer.core.study.rater_copy import make_rater_copy, merge_rater_copy

    with StudyFile(study_path) as master:
        copy = make_rater_copy(master, "dr-b", tmp_path / "copy.fvstudy")
        master.db = FailingDb(master.db, "rater_copies")
        with pytest.raises(StudyError) as caught:
            merge_rater_copy(master, copy)
        master.db = master.db.db
    assert str(caught.value).startswith(str(study_path)) and "copy.fvstudy" not in str(caught.value)


def test_the_analysis_exports_refuse_a_study_tampered_since_it_was_shown(qtbot, study_path, tmp_path, monkeypatch):
    from fundus_viewer.gui.study_analysis import AnalysisWindow

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    monkeypatch.setattr(QMessageBox, "information", lambda *args: None)
    window = AnalysisWindow(locked_study(study_path))
    qtbot.addWidget(window)
    with sqlite3.connect(study_path) as db:
        db.execute("UPDATE answers SET score = 5")
    window.export_csv(str(tmp_path / "answers.csv"))
    assert window.export_mrmc(str(tmp_path / "mrmc")) == []
    assert not (tmp_path / "answers.csv").exists() and not list((tmp_path).glob("mrmc/*"))
    assert len(shown) == 2 and all("tampered" in s for s in shown)
    window._refresh_or_say()
    assert window.analysis is None and window.text.toPlainText() == ""
    window.close()
