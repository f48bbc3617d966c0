"""Ground-truth boxes in COCO JSON: ``images[].file_name``, ``annotations[].bbox`` (x, y, w, h in
original pixels), ``categories`` named ``RL`` and ``RNFLD``."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.errors import BoxesError
from fundus_viewer.core.methods import LABELS


@dataclass
class ImageBoxes:
    file_name: str
    width: int | None = None
    height: int | None = None
    boxes: dict[str, list[tuple[float, float, float, float]]] = field(default_factory=lambda: {c: [] for c in LABELS})


Size = tuple[int, int]
_MAX_SIDE = 100_000_000  # no photo the viewer opens (100 MP at most) is longer than this


class _Checker:
    """Each entry of one COCO file checked by hand (no schema library is installed): a wrong one is
    refused as ``FILE: annotations[3].bbox: not finite``."""

    def __init__(self, path: Path):
        self.path = path

    def refuse(self, where: str, what: str) -> BoxesError:
        return BoxesError(f"{self.path}: {where}: {what}")

    def id(self, value, where: str) -> int | str:
        if isinstance(value, float) and value.is_integer():
            return int(value)  # some exporters write 1.0
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise self.refuse(where, f"not an integer or string id ({_show(value)})")
        return value

    def file_name(self, value, where: str) -> str:
        """The name with ``/`` between its parts (Label Studio writes ``images\\x.jpg`` on Windows)."""
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(where, f"not a file name ({_show(value)})")
        name = PurePosixPath(value.replace("\\", "/"))
        if (
            name.is_absolute()
            or PureWindowsPath(value).drive
            or ".." in name.parts
            or name.name in ("", ".")
            or "\0" in value
        ):
            # names are looked up under the photo folder: a path out of it could read (or score) any file
            raise self.refuse(where, f"must be a photo's file name in the folder, not a path out of it ({value!r})")
        return str(name)

    def side(self, value, where: str) -> int | None:
        if value is None or (value == 0 and not isinstance(value, bool)):
            return None  # some exporters write 0 for "unknown": the photo is measured
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= _MAX_SIDE:
            raise self.refuse(where, f"not a positive whole number of pixels ({_show(value)})")
        if value != int(value):
            raise self.refuse(where, f"not a whole number of pixels ({value})")
        return int(value)

    def bbox(self, value, where: str) -> tuple[float, float, float, float]:
        if not isinstance(value, list):
            raise self.refuse(where, f"not a list [x, y, width, height] ({_show(value)})")
        if len(value) != 4:
            raise self.refuse(where, f"needs 4 numbers [x, y, width, height], not {len(value)}")
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.refuse(where, f"not a number ({_show(v)})")
            if isinstance(v, float) and not math.isfinite(v):
                raise self.refuse(where, f"not finite ({v})")
            if abs(v) > _MAX_SIDE:  # before float(): an int of 400 digits overflows
                raise self.refuse(where, f"beyond any photo ({_show(v)})")
        x, y, w, h = (float(v) for v in value)
        if w <= 0 or h <= 0:
            raise self.refuse(where, f"a box of zero or negative size {value}")
        return x, y, w, h

    def fit(self, box, size: Size, where: str, notes: list[str] | None):
        """Clipped to the photo (with a note), or refused when nothing of it is on the photo."""
        (x, y, w, h), (width, height) = box, size
        x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
        if x1 <= x0 or y1 <= y0:
            raise self.refuse(where, f"entirely outside the {width} x {height} photo ({list(box)})")
        if (x0, y0, x1, y1) == (x, y, x + w, y + h):
            return box  # as the file says it (x1 - x0 need not give back w exactly)
        if notes is not None:
            notes.append(f"{self.path}: {where}: clipped to the {width} x {height} photo")
        return x0, y0, x1 - x0, y1 - y0

    def covers_a_pixel(self, box, where: str) -> None:
        """Refused unless the box holds a pixel centre: one that holds none (a sliver left by clipping)
        would score 0 % for every map. Asked of metrics.boxes_mask, one axis at a time (so a strip as
        long as the box, not the photo's area)."""
        from fundus_viewer.core.metrics import boxes_mask

        x, y, w, h = box
        across = boxes_mask((1, max(1, math.ceil(x + w) + 1)), [(x, 0.0, w, 1.0)]).any()
        down = boxes_mask((1, max(1, math.ceil(y + h) + 1)), [(y, 0.0, h, 1.0)]).any()
        if not (across and down):
            raise self.refuse(where, f"covers no pixel (no pixel's centre lies inside {[round(v, 4) for v in box]})")


def _show(value) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)  # null, true, false: as the file spells them
    if isinstance(value, (dict, list)):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "…"  # an int of 400 digits


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoxesError(f"{path}: no such box file") from None
    except OSError as exc:
        raise BoxesError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoxesError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise BoxesError(f"{path}: not valid COCO JSON (nested too deeply)") from None


def load_coco(
    path: str | Path, sizes: Callable[[str], Size | None] | None = None, notes: list[str] | None = None
) -> dict[str, ImageBoxes]:
    """Boxes per image file name. Categories other than RL/RNFLD are ignored; a file without either is an error.

    Every entry is checked; a box partly outside its photo is clipped (a line added to ``notes``), one
    entirely outside is refused. The photo's size is the image entry's, else ``sizes(file_name)`` (its
    header, where the caller has the photo).
    """
    path = Path(path)
    check = _Checker(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= data.keys():
        raise BoxesError(f"{path}: not COCO JSON (needs images, annotations and categories)")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data[key], list):
            raise check.refuse(key, f"not a list ({_show(data[key])})")
        for number, entry in enumerate(data[key]):
            if not isinstance(entry, dict):
                raise check.refuse(f"{key}[{number}]", f"not an object ({_show(entry)})")
    names = {}
    known: set[int | str] = set()  # every category's id, to tell "1" from 1
    for number, category in enumerate(data["categories"]):
        name = category.get("name")
        if isinstance(name, str) and name.strip().upper() in LABELS:
            names[check.id(category.get("id"), f"categories[{number}].id")] = name.strip().upper()
        with contextlib.suppress(BoxesError):  # another category's odd id: its boxes are not read
            known.add(check.id(category.get("id"), ""))
    if not names:
        raise BoxesError(f"{path}: no category named RL or RNFLD")
    proposed = sum(1 for a in data["annotations"] if a.get("proposal") not in (None, False, 0, "", "false"))
    if proposed:
        raise BoxesError(
            f"{path}: holds {proposed} box proposal(s) made from heat maps (propose-boxes), which are not ground "
            "truth; open the photos in the window and accept or reject the proposals Annotate ▸ Propose boxes from "
            "the maps makes there"
        )
    images: dict[str, ImageBoxes] = {}
    by_id: dict[int | str, ImageBoxes] = {}
    for number, image in enumerate(data["images"]):
        where = f"images[{number}]"
        if "id" not in image or "file_name" not in image:
            raise check.refuse(where, "lacks 'id'" if "id" not in image else "lacks 'file_name'")
        image_id = check.id(image["id"], f"{where}.id")
        entry = ImageBoxes(
            check.file_name(image["file_name"], f"{where}.file_name"),
            check.side(image.get("width"), f"{where}.width"),
            check.side(image.get("height"), f"{where}.height"),
        )
        if image_id in by_id:
            raise check.refuse(f"{where}.id", f"{image_id!r} is given to two images")
        if entry.file_name in images:  # the second would hide the first one's boxes
            raise check.refuse(f"{where}.file_name", f"{entry.file_name!r} is listed twice")
        by_id[image_id] = images[entry.file_name] = entry
    measured: dict[str, Size | None] = {}
    for number, annotation in enumerate(data["annotations"]):
        where = f"annotations[{number}]"
        category = check.id(annotation.get("category_id"), f"{where}.category_id")
        if category not in known:  # else every box of a file that writes "1" for 1 is dropped unsaid
            raise check.refuse(f"{where}.category_id", f"no category has the id {category!r}")
        if category not in names:
            continue
        image = by_id.get(check.id(annotation.get("image_id"), f"{where}.image_id"))
        if image is None:
            raise check.refuse(f"{where}.image_id", f"no image has the id {annotation.get('image_id')!r}")
        box = check.bbox(annotation.get("bbox"), f"{where}.bbox")
        if image.width and image.height:
            size: Size | None = (image.width, image.height)
        else:
            if image.file_name not in measured:
                measured[image.file_name] = sizes(image.file_name) if sizes is not None else None
            size = measured[image.file_name]
        if size is not None:
            box = check.fit(box, size, f"{where}.bbox", notes)
        check.covers_a_pixel(box, f"{where}.bbox")
        image.boxes[names[category]].append(box)
    return images


def save_coco(images: dict[str, ImageBoxes], path: str | Path) -> Path:
    """Write COCO JSON atomically."""
    path = Path(path)
    categories = [{"id": i + 1, "name": name, "supercategory": "glaucoma"} for i, name in enumerate(LABELS)]
    ids = {name: i + 1 for i, name in enumerate(LABELS)}
    coco = {"images": [], "annotations": [], "categories": categories}
    for image_id, entry in enumerate(images.values(), start=1):
        coco["images"].append(
            {"id": image_id, "file_name": entry.file_name, "width": entry.width, "height": entry.height}
        )
        for category, boxes in entry.boxes.items():
            for x, y, w, h in boxes:
                coco["annotations"].append(
                    {
                        "id": len(coco["annotations"]) + 1,
                        "image_id": image_id,
                        "category_id": ids[category],
                        "bbox": [x, y, w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, json.dumps(coco, indent=1))


def mask_bounding_box(mask, level: int = 1) -> tuple[float, float, float, float] | None:
    """COCO box (x, y, w, h) around the pixels ``>= level`` of a mask; None when there are none.

    Drishti-GS1's soft disc maps use level 191 for "at least 3 of 4 experts".
    """
    import numpy as np

    ys, xs = np.nonzero(np.asarray(mask) >= level)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)
