"""What every Fundus Viewer SQLite file shares: durable connections and short write transactions.

``synchronous=FULL`` in a rollback journal: a committed change is on disk, the file stays one file at
rest (no ``-wal`` companions to lose when it is copied), and several processes may write in turn
(``timeout`` waits for the lock).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from fundus_viewer.core.errors import FundusViewerError


class SqliteFile:
    """An open Fundus Viewer SQLite file (``self.db``); use as a context manager, or call ``close()``."""

    db: sqlite3.Connection

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def file_uri(path, readonly: bool = False) -> str:
    """The SQLite URI of a file: percent-encoded (``Path.as_uri``), so a folder named with '#', '?' or
    '%' opens that file and not another."""
    return Path(path).resolve().as_uri() + ("?mode=ro" if readonly else "")


def connect(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    return db


@contextmanager
def write_transaction(
    db: sqlite3.Connection, error: type[FundusViewerError] = FundusViewerError, where: object = None
) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): takes the write lock before reading what it checks.

    Failures (a busy or read-only file, a full disk) become ``error`` with a message that says the
    change was not recorded, after ``where`` (the file's name) when given.
    """
    prefix = f"{where}: " if where is not None else ""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise error(f"{prefix}the file is busy or read-only ({exc}); nothing was saved") from exc
    try:
        yield
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        _roll_back(db)
        # a read-only file lets BEGIN through and refuses the first write
        why = "the file is read-only: " if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY else ""
        raise error(f"{prefix}the change could not be saved ({why}{exc}); it was not recorded") from exc
    except BaseException:
        _roll_back(db)
        raise


def _roll_back(db: sqlite3.Connection) -> None:
    # after SQLITE_FULL or an I/O error SQLite has already rolled back: a second ROLLBACK would raise
    # "no transaction is active" over the error that matters
    if db.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")
