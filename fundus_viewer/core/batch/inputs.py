"""What a data-set run goes through: one ``DataItem`` per photo (per frame of a multi-frame DICOM).

``collect_items`` takes a manifest (CSV with a ``path`` column, paths relative to it; rows with a
``role`` other than ``photo`` are masks and are left out), a folder (searched recursively for photos and
DICOM files, whatever their suffix: DICOM files are recognised by their preamble), or photo paths. An
item's ``key`` names its row: for a DICOM photo its SOP Instance UID (file names of DICOM exports often
carry the patient's name), else the path as the manifest gives it or relative to the folder; ``#N``
marks frame N of a multi-frame file. With several sources, keys start with the source's name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.formats import IMAGE_SUFFIXES
from fundus_viewer.core.manifest import ManifestError, read_manifest


class DataSourceError(FundusViewerError):
    """--data names nothing that can be read, or a manifest without the columns it needs."""


@dataclass(frozen=True)
class DataItem:
    key: str
    path: str
    frame: int = 0
    dicom: bool = False


def collect_items(sources, exclude: Path | None = None) -> list[DataItem]:
    """The photos of ``sources`` (one or several manifests, folders or files), in a stable order.
    ``exclude``: a folder left out of folder scans (the run's own output folder)."""
    sources = [Path(sources)] if isinstance(sources, (str, Path)) else [Path(s) for s in sources]
    items: list[DataItem] = []
    for source in sources:
        prefix = f"{source.name}/" if len(sources) > 1 else ""
        if source.is_dir():
            entries = [(p.relative_to(source).as_posix(), p) for p in _folder_files(source, exclude)]
        elif source.suffix.lower() == ".csv":
            if not source.is_file():
                raise DataSourceError(f"{source}: no such manifest")
            entries = _manifest_rows(source)
        elif source.is_file():
            entries = [(source.name if prefix else str(source), source)]
        else:
            raise DataSourceError(f"{source}: no such file or folder")
        items += _expand(entries, prefix)
    counts = Counter(item.key for item in items)
    doubled = sorted(key for key, n in counts.items() if n > 1)
    if doubled:
        raise DataSourceError(f"{len(doubled)} photo(s) listed more than once, e.g. {', '.join(doubled[:3])}")
    return items


def _folder_files(folder: Path, exclude: Path | None) -> list[Path]:
    from fundus_viewer.core.dicom import is_dicom_file

    skip = exclude.resolve() if exclude is not None else None
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if not path.is_file() or any(part.startswith(".") for part in parts) or path.name.upper() == "DICOMDIR":
            continue
        if skip is not None and (path.resolve() == skip or skip in path.resolve().parents):
            continue
        # any other suffix may still be DICOM: exports name files by UID ("1.2.840....6046") or ".IMA"
        if path.suffix.lower() in IMAGE_SUFFIXES or is_dicom_file(path):
            found.append(path)
    return found


def _manifest_rows(path: Path) -> list[tuple[str, Path]]:
    try:
        rows = read_manifest(path, ("path",))
    except ManifestError as exc:
        raise DataSourceError(str(exc)) from None
    return [(row["path"], path.parent / row["path"]) for row in rows if row["path"] and row.role == "photo"]


def _expand(entries: list[tuple[str, Path]], prefix: str) -> list[DataItem]:
    """One item per frame of a multi-frame DICOM (its header read only), one per other file."""
    from fundus_viewer.core.dicom import dicom_header, is_dicom_file

    items = []
    for key, path in entries:
        if path.is_file() and is_dicom_file(path):
            uid, frames = dicom_header(path)
            key = uid or key  # a file whose header cannot be read keeps its name: its row says why
            if frames > 1:
                items += [DataItem(f"{prefix}{key}#{frame}", str(path), frame, True) for frame in range(frames)]
                continue
            items.append(DataItem(prefix + key, str(path), 0, True))
        else:
            items.append(DataItem(prefix + key, str(path)))
    return items
