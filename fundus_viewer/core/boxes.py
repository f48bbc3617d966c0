"""Ground-truth boxes in COCO JSON: ``images[].file_name``, ``annotations[].bbox`` (x, y, w, h in
original pixels), ``categories`` named ``RL`` and ``RNFLD``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.errors import BoxesError
from fundus_viewer.core.methods import LABELS


@dataclass
class ImageBoxes:
    file_name: str
    width: int | None = None
    height: int | None = None
    boxes: dict[str, list[tuple[float, float, float, float]]] = field(default_factory=lambda: {c: [] for c in LABELS})


def load_coco(path: str | Path) -> dict[str, ImageBoxes]:
    """Boxes per image file name. Categories other than RL/RNFLD are ignored; a file without either is an error."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoxesError(f"{path}: no such box file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoxesError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= data.keys():
        raise BoxesError(f"{path}: not COCO JSON (needs images, annotations and categories)")
    names = {}
    for category in data["categories"]:
        name = str(category.get("name", "")).strip().upper()
        if name in LABELS:
            names[category["id"]] = name
    if not names:
        raise BoxesError(f"{path}: no category named RL or RNFLD")
    proposed = sum(
        1 for a in data["annotations"] if isinstance(a, dict) and a.get("proposal") not in (None, False, 0, "", "false")
    )
    if proposed:
        raise BoxesError(
            f"{path}: holds {proposed} box proposal(s) made from heat maps (propose-boxes), which are not ground "
            "truth; open the photos in the window and accept or reject the proposals Annotate ▸ Propose boxes from "
            "the maps makes there"
        )
    images = {}
    by_id = {}
    for image in data["images"]:
        try:
            entry = ImageBoxes(str(image["file_name"]), image.get("width"), image.get("height"))
            by_id[image["id"]] = entry
        except KeyError as exc:
            raise BoxesError(f"{path}: an image entry lacks {exc}") from None
        images[entry.file_name] = entry
    for number, annotation in enumerate(data["annotations"]):
        if annotation.get("category_id") not in names:
            continue
        image = by_id.get(annotation.get("image_id"))
        if image is None:
            raise BoxesError(f"{path}: annotation {number} refers to unknown image_id {annotation.get('image_id')!r}")
        bbox = annotation.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
            raise BoxesError(f"{path}: annotation {number} has no valid bbox [x, y, width, height]")
        if bbox[2] <= 0 or bbox[3] <= 0:
            raise BoxesError(f"{path}: annotation {number} has a box of zero or negative size {bbox}")
        x, y, width, height = (float(v) for v in bbox)
        image.boxes[names[annotation["category_id"]]].append((x, y, width, height))
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
