"""Ground-truth boxes as clinicians draw them: one SQLite file per photo folder (or a project file).

Every change is one transaction, on disk when the call returns, so a crash loses nothing already drawn.
Each box belongs to its annotator: two annotators on one folder each see the other's boxes but can
change only their own, and no write rewrites the file, so neither overwrites the other. The paper's
Table 1 and the ``evaluate`` command read the same boxes through COCO JSON (export / import here).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from fundus_viewer.core.boxes import ImageBoxes, load_coco, save_coco
from fundus_viewer.core.errors import BoxesError
from fundus_viewer.core.methods import LABELS
from fundus_viewer.core.sqlite_file import SqliteFile, connect, file_uri, write_transaction

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4656414E  # "FVAN"
FOLDER_FILE = "fundus-viewer-annotations.sqlite"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE boxes (
    box_id TEXT PRIMARY KEY,
    image TEXT NOT NULL,            -- the photo's file name within its folder
    label TEXT NOT NULL CHECK (label IN ('RL', 'RNFLD')),
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL CHECK (w > 0), h REAL NOT NULL CHECK (h > 0),
    annotator TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL
);
CREATE INDEX boxes_by_image ON boxes (image);
CREATE TABLE reviewed (image TEXT NOT NULL, annotator TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (image, annotator));
"""


class AnnotationError(BoxesError):
    """An annotation file is unusable, or a change is refused (someone else's box, a locked file)."""


@dataclass(frozen=True)
class Box:
    image: str
    label: str
    x: float
    y: float
    w: float
    h: float
    annotator: str
    box_id: str = ""

    def moved(self, x: float, y: float, w: float, h: float) -> Box:
        return replace(self, x=float(x), y=float(y), w=float(w), h=float(h))


def new_box(image: str, label: str, x: float, y: float, w: float, h: float, annotator: str) -> Box:
    if label not in LABELS:
        raise AnnotationError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
    if w <= 0 or h <= 0:
        raise AnnotationError(f"a box needs a positive width and height, got {w} x {h}")
    return Box(image, label, float(x), float(y), float(w), float(h), annotator, uuid.uuid4().hex)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AnnotationStore(SqliteFile):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        existed = self.path.exists()
        try:
            self.db = connect(file_uri(self.path))
            if self._unmade():
                self._make()
            app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
            version = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except Exception as exc:  # sqlite3.DatabaseError, OSError: not an annotation file, unwritable folder
            if getattr(self, "db", None) is not None:
                self.db.close()
            if isinstance(exc, AnnotationError):
                raise
            if not existed:
                raise AnnotationError(
                    f"{self.path}: could not create the annotation file ({exc}); nothing was saved"
                ) from exc
            raise AnnotationError(f"{self.path}: not a Fundus Viewer annotation file ({exc})") from exc
        if app_id != APPLICATION_ID or version is None:
            raise AnnotationError(f"{self.path}: not a Fundus Viewer annotation file")
        if int(version[0]) > SCHEMA_VERSION:
            raise AnnotationError(
                f"{self.path}: annotation schema {version[0]} is newer than this program reads ({SCHEMA_VERSION})"
            )

    def _unmade(self) -> bool:
        """No tables yet: a new (0-byte) file, or one an older version left half made when the disk
        filled up between writing its id and its schema. Another program's file is left alone."""
        tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return tables == 0 and self.db.execute("PRAGMA application_id").fetchone()[0] in (0, APPLICATION_ID)

    def _make(self) -> None:
        """Id and schema in one transaction: a full disk leaves the file as it was (empty), never half made."""
        try:
            with write_transaction(self.db, AnnotationError, where=self.path):
                if self._unmade():  # another process may have made it while this one waited for the lock
                    self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?), ('created', ?)", (str(SCHEMA_VERSION), _now())
                    )
        except AnnotationError as exc:
            reason = exc.__cause__ or exc
            raise AnnotationError(
                f"{self.path}: could not create the annotation file ({reason}); nothing was saved"
            ) from exc

    @classmethod
    def for_folder(cls, folder: str | Path) -> AnnotationStore:
        return cls(Path(folder) / FOLDER_FILE)

    # -- boxes ------------------------------------------------------------------------------------
    def add(self, box: Box, origin: str | None = None) -> Box:
        """Store a new box (or bring back a deleted one with its id, for undo). ``origin``: where it came
        from when it was not drawn by hand (an accepted proposal), kept beside it in ``box_origins``, a table
        older versions do not know and leave alone (so the file stays schema 1)."""
        if not box.box_id:
            box = replace(box, box_id=uuid.uuid4().hex)
        self._insert([box], origin)
        return box

    def forget_origin(self, box_id: str) -> None:
        """An accepted proposal undone: the box is gone and so is where it came from."""
        if (
            self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'box_origins'").fetchone()
            is not None
        ):
            with write_transaction(self.db, AnnotationError, where=self.path):
                self.db.execute("DELETE FROM box_origins WHERE box_id = ?", (box_id,))

    def origin(self, box_id: str) -> str | None:
        if (
            self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'box_origins'").fetchone()
            is None
        ):
            return None
        row = self.db.execute("SELECT origin FROM box_origins WHERE box_id = ?", (box_id,)).fetchone()
        return None if row is None else row[0]

    def _insert(self, boxes: list[Box], origin: str | None = None) -> None:
        """One transaction for all of them: a COCO import lands whole or not at all."""
        stamp = _now()
        with write_transaction(self.db, AnnotationError, where=self.path):
            self.db.executemany(
                "INSERT INTO boxes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(b.box_id, b.image, b.label, b.x, b.y, b.w, b.h, b.annotator, stamp, stamp) for b in boxes],
            )
            if origin is not None:
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS box_origins (box_id TEXT PRIMARY KEY, origin TEXT NOT NULL)"
                )
                self.db.executemany(
                    "INSERT OR REPLACE INTO box_origins VALUES (?, ?)", [(b.box_id, origin) for b in boxes]
                )

    def update(self, box: Box) -> None:
        with write_transaction(self.db, AnnotationError, where=self.path):
            self._check_owner(box)
            self.db.execute(
                "UPDATE boxes SET label = ?, x = ?, y = ?, w = ?, h = ?, modified = ? WHERE box_id = ?",
                (box.label, box.x, box.y, box.w, box.h, _now(), box.box_id),
            )

    def delete(self, box: Box) -> None:
        with write_transaction(self.db, AnnotationError, where=self.path):
            self._check_owner(box)
            self.db.execute("DELETE FROM boxes WHERE box_id = ?", (box.box_id,))

    def _check_owner(self, box: Box) -> None:
        row = self.db.execute("SELECT annotator FROM boxes WHERE box_id = ?", (box.box_id,)).fetchone()
        if row is None:
            raise AnnotationError("that box is no longer in the file (deleted elsewhere?)")
        if row[0] != box.annotator:
            raise AnnotationError(f"that box belongs to {row[0]}; only they can change it")

    def boxes(self, image: str | None = None) -> list[Box]:
        query = "SELECT image, label, x, y, w, h, annotator, box_id FROM boxes"
        rows = (
            self.db.execute(query + " WHERE image = ? ORDER BY created", (image,))
            if image is not None
            else self.db.execute(query + " ORDER BY image, created")
        )
        return [Box(*row) for row in rows]

    def get(self, box_id: str) -> Box | None:
        row = self.db.execute(
            "SELECT image, label, x, y, w, h, annotator, box_id FROM boxes WHERE box_id = ?", (box_id,)
        ).fetchone()
        return None if row is None else Box(*row)

    def annotators(self) -> dict[str, int]:
        """Every name with boxes in the file, and how many boxes each holds."""
        rows = self.db.execute("SELECT annotator, count(*) FROM boxes GROUP BY annotator ORDER BY annotator")
        return dict(rows.fetchall())

    def take_over(self, old: str, new: str) -> int:
        """Record every box and review mark of ``old`` under ``new`` (a user who renamed themselves), in one
        transaction; returns how many boxes moved. Where both names marked a photo reviewed, one mark stays."""
        if not new.strip() or old == new:
            raise AnnotationError("take over: the new name must be different and not empty")
        with write_transaction(self.db, AnnotationError, where=self.path):
            moved = self.db.execute(
                "UPDATE boxes SET annotator = ?, modified = ? WHERE annotator = ?", (new, _now(), old)
            ).rowcount
            self.db.execute("UPDATE OR REPLACE reviewed SET annotator = ? WHERE annotator = ?", (new, old))
        return moved

    # -- review status ----------------------------------------------------------------------------
    def set_reviewed(self, image: str, annotator: str, reviewed: bool = True) -> None:
        with write_transaction(self.db, AnnotationError, where=self.path):
            if reviewed:
                self.db.execute("INSERT OR REPLACE INTO reviewed VALUES (?, ?, ?)", (image, annotator, _now()))
            else:
                self.db.execute("DELETE FROM reviewed WHERE image = ? AND annotator = ?", (image, annotator))

    def reviewers(self, image: str) -> list[str]:
        return [
            r[0] for r in self.db.execute("SELECT annotator FROM reviewed WHERE image = ? ORDER BY annotator", (image,))
        ]

    def status(self, image: str) -> str:
        """'reviewed' (someone marked it), 'annotated' (has boxes) or 'not annotated'."""
        if self.reviewers(image):
            return "reviewed"
        if self.db.execute("SELECT 1 FROM boxes WHERE image = ? LIMIT 1", (image,)).fetchone():
            return "annotated"
        return "not annotated"

    # -- COCO -------------------------------------------------------------------------------------
    def image_boxes(
        self, sizes: dict[str, tuple[int, int]] | None = None, annotator: str | None = None
    ) -> dict[str, ImageBoxes]:
        """All boxes (or one annotator's) per image, as ``evaluate`` and COCO export take them."""
        images: dict[str, ImageBoxes] = {}
        for box in self.boxes():
            if annotator is not None and box.annotator != annotator:
                continue
            width, height = (sizes or {}).get(box.image, (None, None))
            entry = images.setdefault(box.image, ImageBoxes(box.image, width, height))
            entry.boxes[box.label].append((box.x, box.y, box.w, box.h))
        return images

    def export_coco(
        self,
        path: str | Path,
        sizes: dict[str, tuple[int, int]] | None = None,
        annotator: str | None = None,
        folder: str | Path | None = None,
    ) -> Path:
        """All boxes (or one annotator's) as COCO JSON; ``sizes`` = {image: (width, height)}; the size of
        any other photo is read from its header in ``folder`` (default: this file's folder), upright as
        its boxes are drawn. A photo whose size cannot be read (gone, unreadable) refuses the export with
        an ``AnnotationError`` naming it: a COCO image without its width and height is no COCO image."""
        from fundus_viewer.core.images import photo_sizes  # OpenCV and Pillow: only when exporting

        photos = Path(folder) if folder is not None else self.path.parent
        measure, known = photo_sizes(photos), dict(sizes or {})
        images = self.image_boxes(None, annotator)
        unmeasured = []
        for name, entry in images.items():
            size = known.get(name) or measure(name)
            if size is None:
                unmeasured.append(name)
            else:
                entry.width, entry.height = size
        if unmeasured:
            why = {name: "unreadable" if (photos / name).is_file() else "not there" for name in unmeasured}
            listed = ", ".join(f"{name} ({why[name]})" for name in sorted(unmeasured)[:10]) + (
                f" and {len(unmeasured) - 10} more" if len(unmeasured) > 10 else ""
            )
            raise AnnotationError(
                f"{path}: not written: the width and height of {len(unmeasured)} annotated photo(s) cannot be "
                f"read in {photos}: {listed}. Put the photos back in that folder, or delete their boxes."
            )
        return save_coco(images, path)

    def import_coco(
        self, path: str | Path, annotator: str, folder: str | Path | None = None, notes: list[str] | None = None
    ) -> int:
        """Add every box of a COCO file under ``annotator``, in one transaction; returns how many. Boxes are
        checked against their photos' sizes (the file's, else the headers of the photos in ``folder``,
        default this file's folder): clipped with a line in ``notes``, or the file refused."""
        from fundus_viewer.core.images import photo_sizes

        photos = Path(folder) if folder is not None else self.path.parent
        images = load_coco(path, photo_sizes(photos, by_name=True), notes)
        named: dict[str, str] = {}  # the store knows a photo by its name, not the exporter's folders
        for name, entry in images.items():
            photo = PurePosixPath(name).name
            if photo in named:
                raise BoxesError(f"{path}: {named[photo]!r} and {name!r} would both be {photo}")
            named[photo] = name
            if any(entry.boxes.values()) and notes is not None and not (photos / photo).is_file():
                notes.append(f"{path}: {name}: no photo {photo} in {photos}")
        boxes = [
            new_box(PurePosixPath(name).name, label, *bbox, annotator)
            for name, entry in images.items()
            for label, items in entry.boxes.items()
            for bbox in items
        ]
        self._insert(boxes)
        return len(boxes)
