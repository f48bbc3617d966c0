"""The study file: one SQLite file holding a blinded rating study's images, arms, questions, raters,
orders and every answer.

Durability: every answer is its own IMMEDIATE transaction with ``synchronous=FULL`` in a rollback
journal, so an answer is on disk when ``answer()`` returns, a killed rater loses nothing already given,
and several raters can write into one file at once (SQLite serialises the writers; ``timeout`` waits).
The file stays one file at rest (no ``-wal`` companions), so a study can be mailed to a rater.

Blinding: ``RatingSession`` is all the rating screen gets. It exposes case codes, image bytes, the
questions and the rater's own answers, never an arm, a pairing key or a source name.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing as contextlib_closing
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import overload

import numpy as np

from fundus_viewer.core.atomic import replace_durably
from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.sqlite_file import SqliteFile, connect, file_uri, write_transaction
from fundus_viewer.core.study.seal import content_digest, image_digest, lock_problem

SCHEMA_VERSION = 3  # 2: calibration cases; 3: answers record zooms (older programs insert 6 values and must refuse it)
CALIBRATION_ARM = "calibration"  # the arm of calibration cases; no study arm may take the name
APPLICATION_ID = 0x46565354  # "FVST": tells a study file from any other SQLite file

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cases (
    case_id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,          -- what the rater sees
    image BLOB NOT NULL,                -- re-encoded PNG, one size for all, no metadata
    arm TEXT NOT NULL,                  -- hidden from the rater
    pair_key TEXT,                      -- images made from the same vessel map, say
    source TEXT NOT NULL,               -- the source file's name, for the owner
    repeat_of INTEGER REFERENCES cases(case_id)
);
CREATE TABLE questions (
    question_id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    anchors TEXT NOT NULL,              -- JSON list: the wording of each score from 1 up
    position INTEGER NOT NULL
);
CREATE TABLE raters (
    rater_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    seed INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE orders (
    rater_id INTEGER NOT NULL REFERENCES raters(rater_id),
    position INTEGER NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases(case_id),
    PRIMARY KEY (rater_id, position)
);
CREATE TABLE answers (
    rater_id INTEGER NOT NULL REFERENCES raters(rater_id),
    case_id INTEGER NOT NULL REFERENCES cases(case_id),
    question_id INTEGER NOT NULL REFERENCES questions(question_id),
    score INTEGER NOT NULL,
    answered_at TEXT NOT NULL,
    seconds_on_case REAL,
    zooms INTEGER,                      -- zoom actions on the case before this answer (schema 3)
    PRIMARY KEY (rater_id, case_id, question_id)
);
-- every answer ever given, changes included: the audit trail behind the answers table
CREATE TABLE reference_scores (         -- calibration cases: shown first, their scores revealed, never analysed
    case_id INTEGER NOT NULL REFERENCES cases(case_id),
    question_id INTEGER NOT NULL REFERENCES questions(question_id),
    score INTEGER NOT NULL,
    PRIMARY KEY (case_id, question_id)
);
CREATE TABLE answer_log (
    log_id INTEGER PRIMARY KEY,
    rater_id INTEGER NOT NULL,
    case_id INTEGER NOT NULL,
    question_id INTEGER NOT NULL,
    score INTEGER NOT NULL,
    answered_at TEXT NOT NULL
);
-- SHA-256 of each image as made: a flipped bit inside a blob passes PRAGMA integrity_check, not this.
-- A table of its own, so older study files (none: unchecked) and older programs (ignore it) still work.
CREATE TABLE case_digests (case_id INTEGER PRIMARY KEY REFERENCES cases(case_id), sha256 TEXT NOT NULL);
"""


class StudyError(FundusViewerError):
    """A study file is missing, is not a study, is newer than this program, or refuses a write."""


class StudyLockedError(StudyError):
    pass


class StudyTamperedError(StudyError):
    """A locked study changed after its lock, or was unlocked by editing the file."""


class DamagedImageError(StudyError):
    """A case's image no longer matches the checksum it was made with."""


class StudyUnreadableError(StudyError):
    """A read failed for a passing reason (the file busy, locked by a writer, an I/O error): not damage."""


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """A malformed page, a file that is not a database, or stored text that is not UTF-8 (SQLite's
    own code says which; the UTF-8 error is Python's and carries none)."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "decode to UTF-8" in str(exc)


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """SQLite's complaints while reading as one line naming the file: "damaged" only where the file is
    (``is_damage``); a busy, locked or unreadable file is StudyUnreadableError, which a retry may cure."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise StudyError(
                f"{path}: the study file cannot be read ({exc}); it is damaged: restore it from a copy"
            ) from exc
        raise StudyUnreadableError(f"{path}: the study file could not be read ({exc}); nothing was changed") from exc


def damaged_message(path: str | Path, codes: list[str]) -> str:
    return f"{path}: the image of case {', '.join(codes)} is damaged (its checksum does not match)"


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    anchors: tuple[str, ...]  # anchors[i] describes score i + 1

    @property
    def scores(self) -> range:
        return range(1, len(self.anchors) + 1)


DEFAULT_QUESTIONS = (
    Question(
        "rl",
        "Rim loss (RL): how clearly does the image show neuroretinal rim loss?",
        ("not visible", "doubtful", "visible", "clear", "unmistakable"),
    ),
    Question(
        "rnfld",
        "RNFL defect (RNFLD): how clearly does the image show a retinal nerve fibre layer defect?",
        ("not visible", "doubtful", "visible", "clear", "unmistakable"),
    ),
)


@dataclass
class NewCase:
    """A case as ``create_study`` hands it to ``StudyFile.create``."""

    image: bytes
    arm: str
    source: str
    pair_key: str | None = None
    repeat_of: int | None = None  # index into the list of new cases
    reference: dict[str, int] | None = None  # a calibration case's reference score per question key


@dataclass(frozen=True)
class AnswerRow:
    rater: str
    case_id: int
    code: str
    arm: str
    pair_key: str | None
    repeat_of: int | None
    source: str
    question: str
    score: int
    answered_at: str
    seconds_on_case: float | None = None
    zooms: int | None = None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def rater_seed(study_seed: int, name: str) -> int:
    """A rater's shuffle seed: fixed by the study's seed and the rater's name, different per rater."""
    digest = hashlib.sha256(f"{study_seed}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def rater_order(case_ids: list[int], seed: int) -> list[int]:
    return [int(i) for i in np.random.default_rng(seed).permutation(sorted(case_ids))]


def write_new_file(path: Path, fill, what: str, before_rename=None) -> None:
    """A new study-schema file at ``path``, atomically: built as ``.partial`` (``fill(db)`` in one
    transaction), then ``before_rename()`` (what must be recorded first), then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    db = connect(file_uri(partial))
    try:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.executescript(SCHEMA)
        with write_transaction(db, StudyError):  # the error below names the file
            fill(db)
        db.close()
        if before_rename is not None:
            before_rename()
        replace_durably(partial, path)
    except (OSError, sqlite3.Error, StudyError) as exc:
        db.close()
        partial.unlink(missing_ok=True)
        raise StudyError(f"{path}: could not write the {what} ({getattr(exc, 'strerror', None) or exc})") from exc


class StudyFile(SqliteFile):
    """An open study. Use as a context manager, or call ``close()``."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise StudyError(f"{self.path}: no such study file")
        try:
            app_id, tables = self._open(readonly)
        except sqlite3.DatabaseError as exc:
            if not self._roll_back_hot_journal(readonly, exc):
                raise StudyError(f"{self.path}: not a study file ({exc})") from exc
            try:
                app_id, tables = self._open(readonly)
            except sqlite3.DatabaseError as again:
                raise StudyError(f"{self.path}: not a study file ({again})") from again
        if app_id != APPLICATION_ID or "meta" not in tables:
            self.db.close()
            raise StudyError(f"{self.path}: not a Fundus Viewer study file")
        try:
            version = int(self.meta("schema_version", "0"))
        except (sqlite3.DatabaseError, ValueError) as exc:
            self.db.close()
            raise StudyError(f"{self.path}: not a study file (its schema version is unreadable: {exc})") from exc
        if version > SCHEMA_VERSION:
            self.db.close()
            raise StudyError(
                f"{self.path}: study schema {version} is newer than this program reads ({SCHEMA_VERSION}); "
                "update Fundus Viewer"
            )

    def _open(self, readonly: bool) -> tuple[int, set[str]]:
        self.db = connect(file_uri(self.path, readonly))
        try:
            app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError:
            self.db.close()
            raise
        return app_id, tables

    def _roll_back_hot_journal(self, readonly: bool, exc: sqlite3.DatabaseError) -> bool:
        """A writer killed before COMMIT leaves a hot journal, which a read-only connection may not roll
        back ("attempt to write a readonly database"). Roll it back as SQLite would on any read-write open:
        True when done; a StudyError saying what to do where the file or its folder is not writable."""
        journal = self.path.with_name(self.path.name + "-journal")
        if not readonly or exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_READONLY or not journal.exists():
            return False
        if not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
            raise StudyError(
                f"{self.path}: a crash left a write unfinished ({journal.name}); open the study once where its "
                f"file and folder are writable (`fundus-viewer study status`) to undo it; never delete {journal.name}"
            ) from exc
        try:
            with contextlib_closing(connect(file_uri(self.path))) as db:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the first read rolls it back
        except sqlite3.DatabaseError as again:
            raise StudyError(f"{self.path}: not a study file ({again})") from again
        return True

    def _write(self):
        """A write transaction whose failures name this file."""
        return write_transaction(self.db, StudyError, self.path)

    # -- creating ---------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        cases: list[NewCase],
        *,
        seed: int,
        questions=DEFAULT_QUESTIONS,
        title: str = "",
        settings: dict | None = None,
    ) -> StudyFile:
        """Write a new study atomically: built under a temporary name, renamed into place when complete."""
        path = Path(path)
        if path.exists():
            raise StudyError(f"{path}: already exists; choose a new file name (a study is never overwritten)")
        if not cases:
            raise StudyError(f"{path}: a study needs at least one image")
        keys = [q.key for q in questions]
        if len(set(keys)) != len(keys) or not keys:
            raise StudyError(f"{path}: question keys must be present and distinct, got {keys}")

        def fill(db):
            db.execute("PRAGMA defer_foreign_keys = ON")  # a repeat may come before its original
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "seed": str(seed),
                "created": now(),
                "title": title,
                "locked": "0",
                "settings": json.dumps(settings or {}),
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.executemany(
                "INSERT INTO questions (key, text, anchors, position) VALUES (?, ?, ?, ?)",
                [(q.key, q.text, json.dumps(list(q.anchors)), i) for i, q in enumerate(questions)],
            )
            # Case ids and codes follow a seeded shuffle, so neither tells the order the arms came in.
            shuffled = np.random.default_rng(seed).permutation(len(cases))
            case_id = {int(index): rank + 1 for rank, index in enumerate(shuffled)}
            width = max(3, len(str(len(cases))))
            for index in sorted(case_id, key=case_id.__getitem__):
                case = cases[index]
                db.execute("INSERT INTO case_digests VALUES (?, ?)", (case_id[index], image_digest(case.image)))
                db.execute(
                    "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        case_id[index],
                        f"{case_id[index]:0{width}d}",
                        case.image,
                        case.arm,
                        case.pair_key,
                        case.source,
                        None if case.repeat_of is None else case_id[case.repeat_of],
                    ),
                )
                for key, score in (case.reference or {}).items():
                    db.execute(
                        "INSERT INTO reference_scores VALUES (?, (SELECT question_id FROM questions WHERE key = ?), ?)",
                        (case_id[index], key, int(score)),
                    )

        write_new_file(path, fill, "study")
        return cls(path)

    # -- reading ----------------------------------------------------------------------------------
    @overload
    def meta(self, key: str) -> str | None: ...

    @overload
    def meta(self, key: str, default: str) -> str: ...

    @overload
    def meta(self, key: str, default: str | None) -> str | None: ...

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    @property
    def seed(self) -> int:
        seed = self.meta("seed")
        if seed is None:
            raise StudyError(f"{self.path}: the study file records no seed")
        return int(seed)

    @property
    def title(self) -> str:
        return self.meta("title", "")

    @property
    def locked(self) -> bool:
        return self.meta("locked") == "1"

    @property
    def settings(self) -> dict:
        """How the study was made (``create_study``): task, arms, size ...; {} in a rater copy."""
        return json.loads(self.meta("settings", "{}"))

    @property
    def task(self) -> str:
        """ "score" (1-N clarity scores, the paper's study) or "real-or-synthetic"."""
        return self.settings.get("task", "score")

    @property
    def questions(self) -> list[Question]:
        rows = self.db.execute("SELECT key, text, anchors FROM questions ORDER BY position")
        return [Question(k, t, tuple(json.loads(a))) for k, t, a in rows]

    def case_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT case_id FROM cases ORDER BY case_id")]

    def case_code(self, case_id: int) -> str:
        return self.db.execute("SELECT code FROM cases WHERE case_id = ?", (case_id,)).fetchone()[0]

    def image_bytes(self, case_id: int) -> bytes:
        """The case's image, checked against its checksum where the file has one (older files: unchecked)."""
        with reading(self.path):
            image = bytes(self.db.execute("SELECT image FROM cases WHERE case_id = ?", (case_id,)).fetchone()[0])
            expected = (
                self.db.execute("SELECT sha256 FROM case_digests WHERE case_id = ?", (case_id,)).fetchone()
                if self._has_table("case_digests")
                else None
            )
            if expected is not None and image_digest(image) != expected[0]:
                raise DamagedImageError(damaged_message(self.path, [self.case_code(case_id)]))
        return image

    def image_digests(self) -> dict[int, str]:
        """Each case's image checksum as made; {} in a study made before checksums."""
        if not self._has_table("case_digests"):
            return {}
        return dict(self.db.execute("SELECT case_id, sha256 FROM case_digests").fetchall())

    def damaged_images(self) -> list[str]:
        """The codes of the cases whose image no longer matches its checksum."""
        damaged = []
        for case_id in self.image_digests():
            try:
                self.image_bytes(case_id)
            except DamagedImageError:
                damaged.append(self.case_code(case_id))
        return damaged

    def calibration_ids(self) -> list[int]:
        """Cases with reference scores (none in a study made before calibration existed)."""
        if not self._has_table("reference_scores"):
            return []
        return [r[0] for r in self.db.execute("SELECT DISTINCT case_id FROM reference_scores ORDER BY case_id")]

    def reference(self, case_id: int) -> dict[str, int]:
        """A calibration case's reference score per question key; {} for any other case."""
        if not self._has_table("reference_scores"):
            return {}
        rows = self.db.execute(
            "SELECT q.key, r.score FROM reference_scores r JOIN questions q USING (question_id) "
            "WHERE r.case_id = ? ORDER BY q.position",
            (case_id,),
        )
        return dict(rows.fetchall())

    def _not_calibration(self) -> str:
        """SQL on ``cases c``: not a calibration case. Calibration is having reference scores, never the arm's
        name (a study made before calibration cases existed may have an arm called "calibration")."""
        return "c.case_id NOT IN (SELECT case_id FROM reference_scores)" if self._has_table("reference_scores") else "1"

    def _has_table(self, name: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
            is not None
        )

    def raters(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM raters ORDER BY rater_id")]

    def arms(self) -> list[str]:
        """The arms in the order they were given at creation (so comparisons read "first vs second")."""
        present = [
            r[0]
            for r in self.db.execute(f"SELECT DISTINCT arm FROM cases c WHERE {self._not_calibration()} ORDER BY arm")
        ]
        given = list(self.settings.get("arms", {}))
        return [a for a in given if a in present] + [a for a in present if a not in given]

    # -- raters and answers ------------------------------------------------------------------------
    def rater_id(self, name: str, *, create: bool = True) -> int:
        """The rater's id; a new rater gets a seed and a shuffled order of every case, recorded."""
        name = name.strip()
        if not name:
            raise StudyError("a rater needs a name")
        row = self.db.execute("SELECT rater_id FROM raters WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return row[0]
        if self.meta("kind") == "rater-copy":  # core.study.rater_copy: one rater's file
            raise StudyError(f"{self.path} is {self.meta('rater')}'s rater copy; it takes no other rater")
        if not create:
            raise StudyError(f"{self.path}: no rater named {name!r}")
        self._check_unlocked()
        seed = rater_seed(self.seed, name)
        with self._write():
            # again under the write lock: a lock taken since the check above sealed the raters and orders
            if self.meta("locked") == "1":
                raise StudyLockedError(f"{self.path}: the study is locked; no rater can be added")
            # another process may have added the same rater since the read above
            self.db.execute("INSERT OR IGNORE INTO raters (name, seed, created) VALUES (?, ?, ?)", (name, seed, now()))
            rater = self.db.execute("SELECT rater_id FROM raters WHERE name = ?", (name,)).fetchone()[0]
            if self.db.execute("SELECT COUNT(*) FROM orders WHERE rater_id = ?", (rater,)).fetchone()[0] == 0:
                calibration = set(self.calibration_ids())  # shown first, each rater in their own order
                order = rater_order(sorted(calibration), seed) + rater_order(
                    [c for c in self.case_ids() if c not in calibration], seed
                )
                self.db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(rater, i, c) for i, c in enumerate(order)])
        return rater

    def rater_seed(self, name: str) -> int:
        return self.db.execute("SELECT seed FROM raters WHERE name = ?", (name,)).fetchone()[0]

    def order(self, name: str) -> list[int]:
        rater = self.rater_id(name)
        return [
            r[0] for r in self.db.execute("SELECT case_id FROM orders WHERE rater_id = ? ORDER BY position", (rater,))
        ]

    def answer(
        self,
        name: str,
        case_id: int,
        question: str,
        score: int,
        seconds_on_case: float | None = None,
        zooms: int | None = None,
    ) -> None:
        """Record (or change) one answer; it is on disk when this returns. A study made before schema 3
        has no zooms column: the count is not kept there (the file is not upgraded behind its owner's back)."""
        rater = self.rater_id(name)
        row = self.db.execute("SELECT question_id, anchors FROM questions WHERE key = ?", (question,)).fetchone()
        if row is None:
            raise StudyError(f"{self.path}: no question {question!r}")
        question_id, anchors = row
        if not 1 <= int(score) <= len(json.loads(anchors)):
            raise StudyError(f"score {score} is outside 1-{len(json.loads(anchors))}")
        stamp = now()
        with self._write():
            if self.meta("locked") == "1":
                raise StudyLockedError(f"{self.path}: the study is locked; no answer can be changed")
            self.upsert_answer(rater, case_id, question_id, int(score), stamp, seconds_on_case, zooms)
            self.db.execute(
                "INSERT INTO answer_log (rater_id, case_id, question_id, score, answered_at) VALUES (?, ?, ?, ?, ?)",
                (rater, case_id, question_id, int(score), stamp),
            )

    def upsert_answer(
        self,
        rater_id: int,
        case_id: int,
        question_id: int,
        score: int,
        answered_at: str,
        seconds: float | None,
        zooms: int | None,
    ) -> None:
        """Add or replace one answer row (inside the caller's transaction)."""
        columns = "rater_id, case_id, question_id, score, answered_at, seconds_on_case" + (
            ", zooms" if self.has_zooms else ""
        )
        values = (rater_id, case_id, question_id, score, answered_at, seconds) + ((zooms,) if self.has_zooms else ())
        update = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[3:])
        self.db.execute(
            f"INSERT INTO answers ({columns}) VALUES ({', '.join('?' * len(values))}) "
            f"ON CONFLICT (rater_id, case_id, question_id) DO UPDATE SET {update}",
            values,
        )

    @cached_property
    def has_zooms(self) -> bool:
        """Schema 3's column; read once (an open file's schema never changes: nothing upgrades it)."""
        return any(row[1] == "zooms" for row in self.db.execute("PRAGMA table_info(answers)"))

    def answers_of(self, name: str) -> dict[tuple[int, str], int]:
        rows = self.db.execute(
            "SELECT a.case_id, q.key, a.score FROM answers a JOIN questions q USING (question_id) "
            "JOIN raters r USING (rater_id) WHERE r.name = ?",
            (name,),
        )
        return {(c, k): s for c, k, s in rows}

    def open_positions(self, name: str) -> list[int]:
        """Positions in the rater's order of the cases with a question still unanswered."""
        answers = self.answers_of(name)
        keys = [q.key for q in self.questions]
        return [p for p, case in enumerate(self.order(name)) if not all((case, k) in answers for k in keys)]

    def progress(self, name: str) -> tuple[int, int]:
        """(cases with every question answered, cases) for a rater."""
        total = len(self.order(name))
        return total - len(self.open_positions(name)), total

    def resume_position(self, name: str) -> int:
        """Where a rater goes on: the first case in their order with a question unanswered (or the last case)."""
        return next(iter(self.open_positions(name)), len(self.order(name)) - 1)

    def lock(self) -> str:
        """Lock the study and seal it (``seal``): returns the digest, for the owner to keep."""
        with self._write():
            digest = self.lock_digest or content_digest(self.db)
            self.db.execute("UPDATE meta SET value = '1' WHERE key = 'locked'")
            self.db.executemany(
                "INSERT OR IGNORE INTO meta VALUES (?, ?)", [("lock_digest", digest), ("locked_at", now())]
            )
        return digest

    @property
    def lock_digest(self) -> str | None:
        return self.meta("lock_digest")

    def check_seal(self) -> None:
        """Refuse a study unlocked by hand after its lock, or changed since: StudyTamperedError."""
        problem = lock_problem(self.db, self.locked, self.lock_digest, self.meta("locked_at"))
        if problem is not None:
            raise StudyTamperedError(f"{self.path}: the study was tampered with: {problem}")

    def answer_count(self, name: str) -> int:
        """How many answers a rater has given (0 for a name not in the study)."""
        return self.db.execute(
            "SELECT COUNT(*) FROM answers JOIN raters USING (rater_id) WHERE name = ?", (name.strip(),)
        ).fetchone()[0]

    def _check_unlocked(self) -> None:
        if self.locked:
            raise StudyLockedError(f"{self.path}: the study is locked; no rater can be added")

    # -- for the owner: unblinded ------------------------------------------------------------------
    def all_answers(self, include_calibration: bool = False) -> list[AnswerRow]:
        """Every answer, unblinded; calibration cases' only when asked (they never reach the statistics)."""
        rows = self.db.execute(
            "SELECT r.name, c.case_id, c.code, c.arm, c.pair_key, c.repeat_of, c.source, q.key, a.score, "
            "a.answered_at, a.seconds_on_case, "
            + ("a.zooms " if self.has_zooms else "NULL ")
            + "FROM answers a JOIN raters r USING (rater_id) JOIN cases c USING (case_id) "
            "JOIN questions q USING (question_id) "
            + ("" if include_calibration else f"WHERE {self._not_calibration()} ")
            + "ORDER BY r.name, c.case_id, q.position"
        )
        return [AnswerRow(*row) for row in rows]

    def case_table(self) -> list[dict]:
        rows = self.db.execute("SELECT case_id, code, arm, pair_key, source, repeat_of FROM cases ORDER BY case_id")
        return [dict(zip(("case_id", "code", "arm", "pair_key", "source", "repeat_of"), r, strict=True)) for r in rows]


@dataclass
class RatingSession:
    """What a rater's screen may know: codes, images, questions and this rater's own answers."""

    study: StudyFile
    rater: str
    order: list[int] = field(init=False)

    def __post_init__(self):
        self.study.rater_id(self.rater)
        self.order = self.study.order(self.rater)

    @property
    def questions(self) -> list[Question]:
        return self.study.questions

    @property
    def locked(self) -> bool:
        return self.study.locked

    def code(self, position: int) -> str:
        return self.study.case_code(self.order[position])

    def image(self, position: int) -> bytes:
        return self.study.image_bytes(self.order[position])

    def reference(self, position: int) -> dict[str, int]:
        """A calibration case's reference scores, to reveal once answered; {} for a case under study."""
        return self.study.reference(self.order[position])

    def answers(self, position: int) -> dict[str, int]:
        case = self.order[position]
        return {k: s for (c, k), s in self.study.answers_of(self.rater).items() if c == case}

    def answer(
        self, position: int, question: str, score: int, seconds_on_case: float | None = None, zooms: int | None = None
    ) -> None:
        self.study.answer(self.rater, self.order[position], question, score, seconds_on_case, zooms)

    def progress(self) -> tuple[int, int]:
        return self.study.progress(self.rater)

    def resume_position(self) -> int:
        return self.study.resume_position(self.rater)

    def open_positions(self) -> list[int]:
        """Positions in the order with a question still unanswered."""
        return self.study.open_positions(self.rater)
