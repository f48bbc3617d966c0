"""Sealed rater copies: a study file for one rater to take away, and the way its answers come home.

A rater copy is a study file like any other (``study rate`` opens it the same way), holding only what
its rater may see: the cases renumbered 1..N in that rater's order (so neither the numbers nor the
order of the rows tell anything the rater's screen does not), the images, the questions and the
rater's own answers. No arm, source name, pairing key, repeat link, other rater or master case number
is written: the columns exist (one schema for both) and are empty. Which copy case is which master
case is kept in the master only (``rater_copies``), with a secret that seals the copy's content
(HMAC-SHA256 over its codes, image digests and questions), so ``merge`` can tell a copy of this study
from another and refuse one whose cases were changed. The answers are the rater's own and are not
sealed: whoever holds the copy can change them, as they could on the study itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from fundus_viewer.core.study.store import (
    SCHEMA_VERSION,
    StudyError,
    StudyFile,
    image_digest,
    now,
    reading,
    write_new_file,
)

COPY_KIND = "rater-copy"
COPIES_TABLE = """CREATE TABLE IF NOT EXISTS rater_copies (
    copy_id TEXT PRIMARY KEY,
    rater TEXT NOT NULL,
    secret TEXT NOT NULL,               -- seals the copy; never leaves the master
    case_map TEXT NOT NULL,             -- JSON: copy case number -> master case id
    created TEXT NOT NULL
)"""


@dataclass(frozen=True)
class MergeReport:
    rater: str
    new: int
    changed: int
    unchanged: int
    conflicts: int = 0  # changed in the copy and in the study since the copy was made: the study's kept

    def says(self) -> str:
        conflicts = f", {self.conflicts} changed on both sides (the study's answer kept)" if self.conflicts else ""
        return (
            f"{self.rater}: {self.new} new answer(s), {self.changed} changed, {self.unchanged} already here{conflicts}"
        )


def study_uid(study: StudyFile) -> str:
    """The study's own identity (made on first use; older studies have none until then)."""
    uid = study.meta("study_uid")
    if uid is None:
        new_uid = secrets.token_hex(16)
        with study._write():
            study.db.execute("INSERT OR IGNORE INTO meta VALUES ('study_uid', ?)", (new_uid,))
        uid = study.meta("study_uid", new_uid)  # the row is there now: ours, or one written meanwhile
    return uid


def is_rater_copy(study: StudyFile) -> bool:
    return study.meta("kind") == COPY_KIND


def copy_rater(path: str | Path) -> str | None:
    """The rater a rater copy belongs to; None for a study itself."""
    with StudyFile(path, readonly=True) as study:
        return study.meta("rater") if is_rater_copy(study) else None


def make_rater_copy(master: StudyFile, rater: str, out: str | Path) -> Path:
    """Write ``out``: ``rater``'s sealed copy of ``master`` (their answers so far included)."""
    out = Path(out)
    if is_rater_copy(master):
        raise StudyError(f"{master.path} is a rater copy; make copies from the study itself")
    if master.locked:
        raise StudyError(f"{master.path}: the study is locked; a copy could never be merged")
    if out.exists():
        raise StudyError(f"{out}: already exists; choose a new file name")
    uid = study_uid(master)
    order = master.order(rater)  # adds the rater, with their order, where they are new
    zooms = "a.zooms" if master.has_zooms else "NULL"
    rows = master.db.execute(
        f"SELECT a.case_id, a.question_id, a.score, a.answered_at, a.seconds_on_case, {zooms} "
        "FROM answers a JOIN raters r USING (rater_id) WHERE r.name = ?",
        (rater.strip(),),
    ).fetchall()
    local = {case: position + 1 for position, case in enumerate(order)}
    # in copy-case order: rows in master order would spell out the master case numbers (rowids)
    answers = sorted(((local[c], q, s, at, sec, z) for c, q, s, at, sec, z in rows), key=lambda r: (r[0], r[1]))
    calibration = set(master.calibration_ids())
    width = max(3, len(str(len(order))))
    copy_id, secret = secrets.token_hex(16), secrets.token_hex(32)
    cases = [(local[case], f"{local[case]:0{width}d}", master.image_bytes(case)) for case in order]
    questions = master.db.execute(
        "SELECT question_id, key, text, anchors, position FROM questions ORDER BY position"
    ).fetchall()
    references = [
        (local[case], question, score)
        for case in order
        if case in calibration
        for question, score in master.db.execute(
            "SELECT question_id, score FROM reference_scores WHERE case_id = ?", (case,)
        )
    ]
    # a version before rater copies (schema 2) must refuse one, not treat it as a study
    meta = {
        "schema_version": str(SCHEMA_VERSION),
        "seed": "0",
        "created": now(),
        "title": master.title,
        "locked": "0",
        "settings": "{}",
        "kind": COPY_KIND,
        "copy_id": copy_id,
        "study_uid": uid,
        "rater": rater.strip(),
    }
    meta["seal"] = _seal(secret, meta, cases, questions)

    def fill(db):
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        db.executemany("INSERT INTO questions VALUES (?, ?, ?, ?, ?)", questions)
        db.executemany("INSERT INTO cases VALUES (?, ?, ?, '', NULL, '', NULL)", cases)  # no arm, source, pair, repeat
        db.executemany("INSERT INTO case_digests VALUES (?, ?)", [(c, image_digest(image)) for c, _, image in cases])
        db.execute("INSERT INTO raters VALUES (1, ?, 0, ?)", (rater.strip(), meta["created"]))
        db.executemany(
            "INSERT INTO orders VALUES (1, ?, ?)", [(position, position + 1) for position in range(len(order))]
        )
        db.executemany(
            "INSERT INTO answers (rater_id, case_id, question_id, score, answered_at, seconds_on_case, zooms) "
            "VALUES (1, ?, ?, ?, ?, ?, ?)",
            answers,
        )
        db.executemany("INSERT INTO reference_scores VALUES (?, ?, ?)", references)  # calibration feedback goes along

    def record():  # the study learns of the copy before the copy exists
        with master._write():
            if master.meta("locked") == "1":  # locked since the check above
                raise StudyError(f"{master.path}: the study is locked; a copy could never be merged")
            master.db.execute(COPIES_TABLE)
            master.db.execute(
                "INSERT INTO rater_copies VALUES (?, ?, ?, ?, ?)",
                (copy_id, rater.strip(), secret, json.dumps({str(v): k for k, v in local.items()}), meta["created"]),
            )

    write_new_file(out, fill, "rater copy", before_rename=record)
    return out


def merge_rater_copy(master: StudyFile, copy_path: str | Path) -> MergeReport:
    """Bring a rater copy's answers into ``master``. An answer the rater gave or changed in the copy (its
    log says so) is added or updates the study's, unless the study's own answer was changed after the
    copy was made (a conflict: the study's is kept and counted); everything else is already here.
    The copy's log of every answer given comes along. Idempotent; refuses a copy of another study, a copy
    this study never made, and one whose cases, images, questions or rater differ from what was made."""
    copy_path = Path(copy_path)
    # each file's read failures name that file: a damaged study is not blamed on the copy
    with StudyFile(copy_path, readonly=True) as copy, reading(copy_path):
        if not is_rater_copy(copy):
            raise StudyError(f"{copy_path} is not a rater copy")
        with reading(master.path):
            master_uid = master.meta("study_uid")
            known = (
                master.db.execute(
                    "SELECT rater, secret, case_map, created FROM rater_copies WHERE copy_id = ?",
                    (copy.meta("copy_id"),),
                ).fetchone()
                if master._has_table("rater_copies")
                else None
            )
            master_questions = master.db.execute(
                "SELECT question_id, key, text, anchors, position FROM questions ORDER BY position"
            ).fetchall()
        if copy.meta("study_uid") != master_uid:
            raise StudyError(f"{copy_path} is a rater copy of another study")
        if known is None:
            raise StudyError(f"{copy_path}: this study made no such rater copy")
        rater, secret, made = known[0], known[1], known[3]
        case_map = {int(k): v for k, v in json.loads(known[2]).items()}
        meta = {k: copy.meta(k) for k in ("kind", "copy_id", "study_uid", "rater", "title")}
        cases = copy.db.execute("SELECT case_id, code, image FROM cases ORDER BY case_id").fetchall()
        questions = copy.db.execute(
            "SELECT question_id, key, text, anchors, position FROM questions ORDER BY position"
        ).fetchall()
        if copy.db.execute("SELECT COUNT(*) FROM raters").fetchone()[0] != 1 or meta["rater"] != rater:
            raise StudyError(f"{copy_path}: the copy names another rater or several; nothing was merged")
        sealed = hmac.compare_digest(
            _seal(secret, meta, [(c, code, bytes(image)) for c, code, image in cases], questions),
            copy.meta("seal") or "",
        )
        same_images = set(case_map) == {c for c, _, _ in cases} and all(
            bytes(image) == master.image_bytes(case_map[c]) for c, _, image in cases
        )
        if not sealed or not same_images or questions != master_questions:
            raise StudyError(
                f"{copy_path}: the copy's cases, images or questions were changed after it was made "
                "(its seal does not match); nothing was merged"
            )
        zooms = "zooms" if copy.has_zooms else "NULL"
        answers = copy.db.execute(
            f"SELECT case_id, question_id, score, answered_at, seconds_on_case, {zooms} FROM answers "
            "WHERE rater_id = 1 ORDER BY case_id, question_id"
        ).fetchall()
        logged = copy.db.execute(
            "SELECT case_id, question_id, score, answered_at FROM answer_log WHERE rater_id = 1 ORDER BY log_id"
        ).fetchall()
    anchors = {qid: len(json.loads(a)) for qid, _, _, a, _ in master_questions}
    for case, question, score, answered_at, *_ in [*answers, *logged]:
        if (
            case not in case_map
            or question not in anchors
            or not isinstance(score, int)
            or not 1 <= score <= anchors[question]
            or not isinstance(answered_at, str)
        ):
            raise StudyError(
                f"{copy_path}: an answer outside the study's cases, questions or scores; nothing was merged"
            )
    given_in_copy = {(case, question) for case, question, _, _ in logged}
    with reading(master.path):
        return _merge(master, rater, case_map, made, answers, logged, given_in_copy)


def _merge(master: StudyFile, rater: str, case_map, made: str, answers, logged, given_in_copy) -> MergeReport:
    """The checked copy's answers and log into the study, in one transaction."""
    rater_id = master.rater_id(rater)
    new = changed = unchanged = conflicts = 0
    with master._write():
        if master.meta("locked") == "1":
            raise StudyError(f"{master.path}: the study is locked; no answer can be merged")
        for case, question, score, answered_at, seconds, zoom_count in answers:
            target = case_map[case]
            row = master.db.execute(
                "SELECT score, answered_at FROM answers WHERE rater_id = ? AND case_id = ? AND question_id = ?",
                (rater_id, target, question),
            ).fetchone()
            if row is not None and (row[0] == score or (case, question) not in given_in_copy):
                unchanged += 1
                continue
            if row is not None and row[1] > made:  # both sides changed it since the copy was made (study clock)
                conflicts += 1
                continue
            new, changed = new + (row is None), changed + (row is not None)
            master.upsert_answer(rater_id, target, question, score, answered_at, seconds, zoom_count)
        for case, question, score, answered_at in logged:  # the copy's history, once
            exists = master.db.execute(
                "SELECT 1 FROM answer_log "
                "WHERE rater_id = ? AND case_id = ? AND question_id = ? AND score = ? AND answered_at = ?",
                (rater_id, case_map[case], question, score, answered_at),
            ).fetchone()
            if exists is None:
                master.db.execute(
                    "INSERT INTO answer_log (rater_id, case_id, question_id, score, answered_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (rater_id, case_map[case], question, score, answered_at),
                )
    return MergeReport(rater, new, changed, unchanged, conflicts)


def _seal(secret: str, meta: dict, cases, questions) -> str:
    content = json.dumps(
        {
            "meta": {k: meta[k] for k in ("copy_id", "study_uid", "rater", "title", "kind")},
            "cases": [(c, code, image_digest(image)) for c, code, image in cases],
            "questions": [list(q) for q in questions],
        },
        sort_keys=True,
    )
    return hmac.new(secret.encode(), content.encode(), hashlib.sha256).hexdigest()
