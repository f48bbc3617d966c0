"""One photo's output files, all of them or none: written into a hidden folder of its own beside
them, then moved in, the file that marks the set whole last. A kill or an error between the files of
a photo leaves no partial set among the outputs (only the hidden folder, which ``clean_staging`` or,
in a data-set run, ``discard`` removes); its journal row, written after, is the record that the set
is done."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fundus_viewer.core.atomic import replace_durably
from fundus_viewer.core.errors import FundusViewerError


class OutputMoveError(FundusViewerError):
    """A photo's files could not all be moved into place (a file held open, say): that photo's error."""


@contextmanager
def photo_files(folder: Path, stem: str, last: str) -> Iterator[Path]:
    """The folder to write the files of ``stem`` into; they land in ``folder`` when the block ends
    without an error (the one ending in ``last`` after the others). A write error names the file
    as it would have been in ``folder``; a failed move is an ``OutputMoveError`` and leaves none of
    the set (nor an earlier one under the same names) in ``folder``."""
    # a folder of its own: one a killed run left, and that could not be removed, is no obstacle
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{stem}.", suffix=".partial"))
    try:
        try:
            yield staging
        except OSError as exc:
            if exc.errno is None or not exc.filename or Path(exc.filename).parent != staging:
                raise
            raise OSError(exc.errno, exc.strerror, str(folder / Path(exc.filename).name)) from exc
        names = sorted(os.listdir(staging), key=lambda name: name.endswith(last))
        for name in names:
            try:
                replace_durably(staging / name, folder / name)
            except OSError as exc:
                _remove(folder, reversed(names))  # the marker first: what stays never reads as a whole set
                raise OutputMoveError(
                    f"could not move {folder / name} into place: {exc.strerror or exc}; "
                    "none of the photo's files were kept"
                ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove(folder: Path, names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):  # held open as well: without its marker the set is incomplete anyway
            (folder / name).unlink(missing_ok=True)


def clean_staging(folder: Path, stems: Iterable[str]) -> None:
    """The staging folders a killed run left for these photos in ``folder`` (ours only: hidden,
    named after the stem, ending in ``.partial``; mkdtemp's part between them is 8 characters)."""
    pattern = re.compile("|".join(rf"\.{re.escape(stem)}(\.[a-z0-9_]{{8}})?\.partial" for stem in stems))
    if not pattern.pattern or not folder.is_dir():
        return
    for entry in os.scandir(folder):
        if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def _index(name: str) -> str:
    """The index an output's name starts with (``000042-...``, its staging folder ``.000042-...``)."""
    return name.lstrip(".").split("-", 1)[0]


def discard(folder: Path, indices: Iterable[int]) -> None:
    """Every file and staging folder of these photos in ``folder`` (names from ``tasks.output_stem``)."""
    wanted = {f"{i:06d}" for i in indices}
    if not wanted or not folder.is_dir():
        return
    for entry in os.scandir(folder):
        if _index(entry.name) in wanted:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)


def incomplete(folder: Path, indices: Iterable[int], endings: Iterable[str]) -> set[int]:
    """Of these photos, those without every one of ``endings`` (".vessels-mask.png", ...) in ``folder``."""
    wanted = set(endings)  # an ending listed twice is wanted once
    found: dict[str, set[str]] = {}
    if folder.is_dir():
        for name in os.listdir(folder):
            if not name.startswith("."):
                found.setdefault(_index(name), set()).update(e for e in wanted if name.endswith(e))
    return {i for i in indices if not wanted <= found.get(f"{i:06d}", set())}
