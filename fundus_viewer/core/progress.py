"""What a long job is doing, said one of two ways. Core functions take a ``progress(done, total)``
callback; a person at a terminal sees it as a tqdm bar on stderr (``Bar``, ``counted``: nothing where
stderr is not a terminal), a program (the GUI's Train panel, reading ``fundus-train gan --progress
json``) as one JSON object a line on stdout (``Progress("json")``), read back with ``parse``:

    {"phase": "segmenting vessels", "done": 37, "total": 120}
    {"phase": "building models", "done": null, "total": null}          (no count: busy)
    {"phase": "training", "done": 300, "total": 1500, "checkpoint": 300}

``checkpoint`` is the step of a resumable state just saved. Counts are written at most every ``EVERY``
seconds, and always the first, the last and any checkpoint.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

EVERY = 0.5  # seconds between two count lines: a fast run must not flood the reader's pipe
PREFIX = '{"phase"'  # how a reader tells a progress line from the run's other output

Callback = Callable[[int, int], object]  # progress(done, total)
T = TypeVar("T")


def parse(line: str) -> dict[str, Any] | None:
    """A progress line's fields, or None for any other line of output."""
    if not line.startswith(PREFIX):
        return None
    try:
        fields = json.loads(line)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _tqdm(desc: str, enabled: bool, file: IO[str] | None, **options: Any) -> Any:
    from tqdm import tqdm

    # disable=None: tqdm draws only on a terminal (a log file or a pipe would fill with redrawn bars)
    return tqdm(desc=desc, file=file or sys.stderr, disable=None if enabled else True, dynamic_ncols=True, **options)


class Bar:
    """A core function's ``progress(done, total)`` as a tqdm bar on ``file`` (stderr), opened at the
    first call (at ``done``: a resumed run starts past 0) and closed at ``done >= total`` or by
    ``close``; ``enabled`` False (``--no-progress``, ranks other than 0) draws nothing."""

    def __init__(self, desc: str, enabled: bool = True, file: IO[str] | None = None) -> None:
        self.desc, self.enabled, self.file = desc, enabled, file
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = _tqdm(self.desc, self.enabled, self.file, total=total, initial=done)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def counted(items: Iterable[T], desc: str, enabled: bool = True, leave: bool = True) -> Iterator[T]:
    """``items``, counted on a bar as they are taken (``leave`` False: the bar is wiped at the end)."""
    return iter(_tqdm(desc, enabled, None, iterable=items, leave=leave))


class Progress:
    """A run's phases: each one busy (``busy``) or counted (``count``), as bars or JSON lines."""

    def __init__(self, mode: str = "bar", enabled: bool = True, stream: IO[str] | None = None) -> None:
        """``mode``: "bar" (tqdm on stderr) or "json" (lines on ``stream``, stdout by default);
        ``enabled`` False (ranks other than 0) says nothing."""
        self.mode, self.enabled = mode, enabled
        self.stream = stream
        self.bar: Bar | None = None
        self.phase = ""
        self.sent = 0.0

    def busy(self, phase: str) -> None:
        """A phase whose length is not known."""
        self.close()
        self.phase = phase
        if self.enabled and self.mode == "json":
            self._send({"phase": phase, "done": None, "total": None})

    def count(self, phase: str, done: int, total: int, **extra: object) -> None:
        """``done`` of ``total`` in ``phase``; ``extra`` fields go into the JSON line (and force it out)."""
        if not self.enabled:
            return
        if self.mode == "json":
            now = time.monotonic()
            if phase != self.phase or done in (0, total) or extra or now - self.sent >= EVERY:
                self._send({"phase": phase, "done": done, "total": total, **extra})
            self.phase = phase
            return
        if phase != self.phase or self.bar is None:
            self.close()
            self.phase = phase
            self.bar = Bar(phase)
        self.bar(done, total)

    def counter(self, phase: str) -> Callback:
        """``count`` for ``phase`` in the ``progress(done, total)`` form core functions take."""
        return lambda done, total: self.count(phase, done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _send(self, fields: dict[str, object]) -> None:
        stream = self.stream or sys.stdout
        stream.write(json.dumps(fields) + "\n")
        stream.flush()
        self.sent = time.monotonic()
