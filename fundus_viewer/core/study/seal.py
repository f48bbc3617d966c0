"""The lock's seal: a SHA-256 digest over everything a locked study's analysis rests on.

At lock time the digest of the study's settings (every meta key but the lock's own and the study's
identity), the cases (code, arm, pairing key, source, repeat link), the image checksums, the
calibration reference scores, the questions, the raters and their orders, every answer and the whole
answer log is written beside ``locked``. A study whose meta says unlocked but that holds a digest was
unlocked by hand; a locked study whose content no longer gives its digest was changed after it was
locked. Either is *tampered*. The images enter by their stored checksums, not their bytes: a bit
flipped in an image later is damage (the checksum no longer matches), a picture swapped together with
its checksum breaks the seal. The digest carries no secret: whoever rewrites the file can rewrite it
too, so ``study lock`` prints it for the owner to keep (a lab notebook, the paper's supplement) and
``study status`` prints it again to compare.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

# written after the lock by the lock itself, or on first use (``rater_copy.study_uid``): not sealed
UNSEALED_META = ("locked", "lock_digest", "locked_at", "study_uid")


def image_digest(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


def _sealed(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """What the seal covers, each in a fixed order; tables an older study lacks are left out."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    zooms = any(r[1] == "zooms" for r in db.execute("PRAGMA table_info(answers)"))
    unsealed = ", ".join(f"'{k}'" for k in UNSEALED_META)
    parts = [
        ("meta", f"SELECT key, value FROM meta WHERE key NOT IN ({unsealed}) ORDER BY key"),
        ("cases", "SELECT case_id, code, arm, pair_key, source, repeat_of FROM cases ORDER BY case_id"),
        # the stored checksums; a study made before them: the bytes themselves
        (
            ("images", "SELECT case_id, sha256 FROM case_digests ORDER BY case_id")
            if "case_digests" in tables
            else ("images", "SELECT case_id, image FROM cases ORDER BY case_id")
        ),
        ("questions", "SELECT question_id, key, text, anchors, position FROM questions ORDER BY question_id"),
        ("raters", "SELECT rater_id, name, seed, created FROM raters ORDER BY rater_id"),
        ("orders", "SELECT rater_id, position, case_id FROM orders ORDER BY rater_id, position"),
        (
            "answers",
            "SELECT rater_id, case_id, question_id, score, answered_at, seconds_on_case"
            + (", zooms" if zooms else "")
            + " FROM answers ORDER BY rater_id, case_id, question_id",
        ),
        ("log", "SELECT log_id, rater_id, case_id, question_id, score, answered_at FROM answer_log ORDER BY log_id"),
    ]
    if "reference_scores" in tables:
        parts.append(
            ("references", "SELECT case_id, question_id, score FROM reference_scores ORDER BY case_id, question_id")
        )
    return parts


def content_digest(db: sqlite3.Connection) -> str:
    digest = hashlib.sha256()
    for name, query in _sealed(db):
        digest.update(name.encode())
        for row in db.execute(query):
            values = [image_digest(v) if isinstance(v, bytes) else v for v in row]
            digest.update(json.dumps(values).encode() + b"\n")
    return digest.hexdigest()


def lock_problem(db: sqlite3.Connection, locked: bool, digest: str | None, locked_at: str | None) -> str | None:
    """Why a study is tampered with, or None. A study locked by a version without seals has no digest:
    nothing to check."""
    if digest is None:
        return None
    if not locked:
        return f"it was locked at {locked_at} and has been unlocked since by editing the file"
    if content_digest(db) != digest:
        return (
            f"its cases, settings, questions, raters, orders, answers or log changed after it was locked at {locked_at}"
        )
    return None
