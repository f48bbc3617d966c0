"""Damaged study files: flips in the header, in a page of the answers table, inside an image; cut short;
empty; not SQLite; SQLite without a study's tables. Each is built from one tiny study (3 images of
16 px, one rater's answers) made with the core API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import cv2
import numpy as np

from bad_files import BadFile
from fundus_viewer.core.study.rater_copy import make_rater_copy
from fundus_viewer.core.study.store import NewCase, StudyFile

RATER = "dr-a"


def tiny_study(path: Path) -> Path:
    """A study of 3 tiny images with every question of every case answered by ``RATER``."""
    images = [cv2.imencode(".png", np.full((16, 16, 3), 40 * i, np.uint8))[1].tobytes() for i in range(3)]
    cases = [NewCase(image, ("a", "b")[i % 2], f"s{i}.png") for i, image in enumerate(images)]
    with StudyFile.create(path, cases, seed=1) as study:
        for case in study.order(RATER):
            for question in study.questions:
                study.answer(RATER, case, question.key, 3)
    return path


def _flip(path: Path, offset: int) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _page_of(path: Path, table: str) -> int:
    """The byte offset of a table's root page."""
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    return (root - 1) * page_size


def header_flip(folder: Path) -> Path:
    return _flip(tiny_study(folder / "header.fvstudy"), 16)  # the page size


def answers_page_flip(folder: Path) -> Path:
    path = tiny_study(folder / "answers-page.fvstudy")
    return _flip(path, _page_of(path, "answers"))  # the page's type byte


def answer_text_flip(folder: Path) -> Path:
    path = tiny_study(folder / "answer-text.fvstudy")
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    return _flip(path, _page_of(path, "answers") + page_size - 20)  # inside the last row's time stamp


def image_flip(folder: Path) -> Path:
    path = tiny_study(folder / "image.fvstudy")
    with StudyFile(path) as study:
        image = study.image_bytes(study.case_ids()[1])
    return _flip(path, path.read_bytes().find(image) + len(image) // 2)  # PRAGMA integrity_check passes this


def truncated(folder: Path) -> Path:
    path = tiny_study(folder / "truncated.fvstudy")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    return path


def empty(folder: Path) -> Path:
    path = folder / "empty.fvstudy"
    path.write_bytes(b"")
    return path


def not_sqlite(folder: Path) -> Path:
    path = folder / "notes.fvstudy"
    path.write_text("rater,case,score\ndr-a,1,3\n")
    return path


def foreign_sqlite(folder: Path) -> Path:
    path = folder / "other.fvstudy"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    return path


def damaged_copy(folder: Path) -> Path:
    """A rater copy whose answers page is damaged, for ``merge`` into its good study."""
    with StudyFile(tiny_study(folder / "good.fvstudy")) as study:
        copy = make_rater_copy(study, RATER, folder / "copy.fvstudy")
    return _flip(copy, _page_of(copy, "answers"))


def with_good_study(make):
    """``make`` beside a good study (for ``merge`` and as a copy's source)."""

    def both(folder: Path) -> Path:
        tiny_study(folder / "good.fvstudy")
        return make(folder)

    return both


STATUS = ("fundus-viewer", "study", "status", "{file}")
ANALYZE = ("fundus-viewer", "study", "analyze", "{file}")
LOCK = ("fundus-viewer", "study", "lock", "{file}")
COPY = ("fundus-viewer", "study", "rater-copy", "{file}", "--rater", RATER, "--out", "{tmp}/taken.fvstudy")
MERGE_INTO = ("fundus-viewer", "study", "merge", "{file}", "{tmp}/good.fvstudy")
MERGE_FROM = ("fundus-viewer", "study", "merge", "{tmp}/good.fvstudy", "{file}")
EVERY = (STATUS, ANALYZE, LOCK, COPY, MERGE_INTO, MERGE_FROM)

CASES: list[BadFile] = [
    BadFile("header-flip", with_good_study(header_flip), EVERY),
    BadFile("answers-page-flip", answers_page_flip, (STATUS, ANALYZE, LOCK, COPY)),
    BadFile("answer-text-flip", answer_text_flip, (ANALYZE, LOCK)),
    BadFile("image-flip", image_flip, (STATUS, COPY), says="damaged"),
    BadFile("truncated", with_good_study(truncated), EVERY),
    BadFile("empty", with_good_study(empty), EVERY),
    BadFile("not-sqlite", with_good_study(not_sqlite), EVERY),
    BadFile("sqlite-without-study-tables", with_good_study(foreign_sqlite), EVERY),
    BadFile("damaged-rater-copy", damaged_copy, (MERGE_FROM,)),
]
