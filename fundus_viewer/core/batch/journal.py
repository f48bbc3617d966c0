"""One row per photo, written the moment the photo is done: an append-only JSON-lines file per process
(``rows.RANK.jsonl``), each line written whole and fsynced after the photo's maps are in the store.

A line is complete only if it ends in a newline and parses: a process killed mid-line leaves a torn
last line, which is ignored (and the photo redone), never a record that looks complete. ``summary.csv``
is made from the journals (all ranks, sorted by item), replaced atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from fundus_viewer.core.atomic import atomic_write


class Journal:
    def __init__(self, folder: Path, rank: int = 0):
        self.path = Path(folder) / f"rows.{rank}.jsonl"
        self._truncate_torn_line()
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644
        )

    def append(self, row: dict) -> None:
        line = (json.dumps(row, separators=(",", ":"), allow_nan=False, default=str) + "\n").encode("utf-8")
        fd = self._fd
        if fd is None:
            raise ValueError(f"{self.path}: the journal is closed")
        view = memoryview(line)
        while view:  # a short write (a signal, a nearly full disk) goes on where it stopped
            view = view[os.write(fd, view) :]
        os.fsync(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _truncate_torn_line(self) -> None:
        """Cut a torn last line (a kill mid-write) so that the next row starts on a line of its own."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            with self.path.open("r+b") as stream:
                stream.truncate(end)


def read_rows(folder: Path) -> dict[int, dict]:
    """Every complete row of every rank's journal by item index (a later row of an index wins)."""
    rows: dict[int, dict] = {}
    for path in sorted(Path(folder).glob("rows.*.jsonl")):
        for line in path.read_bytes().split(b"\n")[:-1]:  # the part after the last newline is torn
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("index"), int):
                rows[row["index"]] = row
    return rows


def write_summary(folder: Path, columns: list[str], name: str = "summary.csv") -> Path:
    """``summary.csv``: one row per recorded photo, in item order, with ``columns`` first."""
    rows = [row for _, row in sorted(read_rows(folder).items())]
    extra = sorted({key for row in rows for key in row} - set(columns))
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=columns + extra, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    path = Path(folder) / name
    atomic_write(path, stream.getvalue().encode("utf-8"))
    return path
