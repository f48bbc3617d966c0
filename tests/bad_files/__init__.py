"""A corpus of crafted bad files, made by the tests themselves (nothing binary is committed).

Each module here (``study``, ``checkpoints``, ``coco``, ``images``, ``trainer``) lists ``CASES``: how to
write one bad file and the commands that read that kind of file. ``tests/test_bad_file_corpus.py`` runs
every case against every one of its commands and asserts the contract of the README's reliability
section: exit status 1 or 2, no traceback, and one line that says ``error:`` and names the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BadFile:
    """``make(folder)`` writes the crafted file inside ``folder`` (and whatever good files it needs
    beside it) and returns the bad file's path.

    ``commands`` are argument lists; the first word is the program (``fundus-viewer`` or
    ``fundus-train``), ``{file}`` stands for the bad file and ``{tmp}`` for the folder (outputs go there).
    ``says`` is a fragment the error line must contain besides the file's name (lower case compared).
    """

    id: str
    make: Callable[[Path], Path]
    commands: tuple[tuple[str, ...], ...]
    says: str = ""
