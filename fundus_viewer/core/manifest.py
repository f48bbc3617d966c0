"""A CSV manifest (path, label, split, dataset, role, pair_id ...), read once, the same way everywhere:
the trainer's data sources and the batch runner's inputs. Values are stripped, ``role`` lower-cased, an
Excel UTF-8 byte-order mark is read as none, and every row remembers its line in the file."""

from __future__ import annotations

import csv
from pathlib import Path

from fundus_viewer.core.errors import FundusViewerError

# what a row may be: a photo, or a mask belonging to the photo with the same pair_id
ROLES = ("photo", "disc_mask", "cup_mask", "vessel_mask", "fov_mask")


class ManifestError(FundusViewerError):
    """An unreadable or inconsistent manifest: the message names the file and the line."""


class ManifestRow(dict[str, str]):
    """A row's values by column ("" for an empty or absent optional one) and ``line``, its line in the
    file (a quoted value may span lines; blank lines are counted)."""

    line: int

    @property
    def role(self) -> str:
        return self.get("role") or "photo"


def read_manifest(path: str | Path, columns: tuple[str, ...] = ("path",)) -> list[ManifestRow]:
    """ManifestError when the file is unreadable or empty, lacks one of ``columns``, a row has no value
    for one of them (a short row), or a row's role is not one of ``ROLES``."""
    path = Path(path)
    rows: list[ManifestRow] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            missing = [c for c in columns if c not in header]
            if missing:
                found = ", ".join(header) if header else "no header row"
                raise ManifestError(
                    f"{path}: a manifest needs the columns {' and '.join(columns)} "
                    f"(missing {', '.join(missing)}; found {found})"
                )
            for values in reader:
                short = [c for c in columns if values.get(c) is None]
                if short:  # fewer fields than the header: a value went missing (an empty one is "")
                    raise ManifestError(f"{path}: line {reader.line_num} has no value for {', '.join(short)}")
                row = ManifestRow({k: (v or "").strip() for k, v in values.items() if k is not None})
                row.line = reader.line_num
                if "role" in row:
                    row["role"] = row["role"].lower()
                    if row["role"] and row["role"] not in ROLES:
                        raise ManifestError(
                            f"{path}: line {row.line}: unknown role '{row['role']}' (roles: {', '.join(ROLES)})"
                        )
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc})") from None
    if not rows:
        raise ManifestError(f"{path}: the manifest has no rows")
    return rows
