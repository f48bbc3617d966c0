"""What the classifier said of each photo, remembered across restarts: P(glaucoma), the call, the vCDR,
the unseen-camera flag, per photo file and model.

It lives in the user's cache folder (platformdirs), never beside the photos: viewing a folder writes
nothing there. A result counts only for the same file (path, size, modification time) and the same
model (its checkpoint's SHA-256); a photo changed since, or another model, shows no remembered number.
It is a cache: a failure to read or write it loses nothing but the remembering, and is not an error.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fundus_viewer.core.sqlite_file import SqliteFile, connect, file_uri

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, model TEXT NOT NULL,
    probability REAL NOT NULL, called INTEGER NOT NULL, vcdr REAL, ood_flagged INTEGER, at TEXT NOT NULL,
    PRIMARY KEY (path, model)
)"""


@dataclass(frozen=True)
class Result:
    probability: float
    called: bool  # the model's own call is glaucoma (its calibrated threshold)
    vcdr: float | None = None
    ood_flagged: bool | None = None  # unlike the training photos; None: not measured


def default_path() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("fundus-viewer", appauthor=False)) / "results.sqlite"


def _stamp(photo: Path) -> tuple[str, int, int] | None:
    try:
        stat = os.stat(photo)
    except OSError:
        return None
    return str(Path(photo).resolve()), stat.st_size, stat.st_mtime_ns


class ResultsCache(SqliteFile):
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = connect(file_uri(self.path))
        try:
            self.db.execute(SCHEMA)
        except sqlite3.DatabaseError:
            self.db.close()
            raise

    @classmethod
    def open(cls, path: str | Path | None = None) -> ResultsCache | None:
        """The cache, or None where it cannot be had (a read-only home, a damaged file): no remembering."""
        try:
            return cls(path)
        except (OSError, sqlite3.Error):
            return None

    def remember(self, photo: Path, model: str, result: Result) -> bool:
        """Store (replace) the result of ``photo`` under ``model``; False if it could not be written."""
        stamp = _stamp(photo)
        if stamp is None:
            return False
        row = (*stamp, model, result.probability, int(result.called), result.vcdr)
        flag = None if result.ood_flagged is None else int(result.ood_flagged)
        with contextlib.suppress(sqlite3.Error):
            self.db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, flag, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            return True
        return False

    def recall(self, photos: list[Path], model: str) -> dict[Path, Result]:
        """The remembered results of those ``photos`` whose file is unchanged since, under ``model``."""
        found: dict[Path, Result] = {}
        for photo in photos:
            stamp = _stamp(photo)
            if stamp is None:
                continue
            try:
                row = self.db.execute(
                    "SELECT probability, called, vcdr, ood_flagged FROM results "
                    "WHERE path = ? AND size = ? AND mtime_ns = ? AND model = ?",
                    (*stamp, model),
                ).fetchone()
            except sqlite3.Error:
                return found
            if row is not None:
                found[photo] = Result(row[0], bool(row[1]), row[2], None if row[3] is None else bool(row[3]))
        return found
