"""Bad COCO box files: wrong types (categories as an object, booleans as numbers, ids that are lists),
JSON nested too deeply, boxes that are NaN, infinite, 1e308, outside the photo or covering no pixel,
and file names that are null or paths out of the photo folder (folders inside it are fine). Each sits
beside a folder ``photos`` with one 64 x 48 photo, ``eye.png``; ``evaluate`` must refuse the file
before any model is loaded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bad_files import BadFile

EVALUATE = (("fundus-viewer", "evaluate", "--images", "{tmp}/photos", "--boxes", "{file}"),)
WIDTH, HEIGHT = 64, 48


def good_coco(**changes) -> dict:
    """One RL box on ``eye.png``, its size stated; ``changes`` replace top-level keys."""
    coco = {
        "images": [{"id": 1, "file_name": "eye.png", "width": WIDTH, "height": HEIGHT}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}],
        "categories": [{"id": 1, "name": "RL"}, {"id": 2, "name": "RNFLD"}],
    }
    coco.update(changes)
    return coco


def photos(folder: Path) -> Path:
    (folder / "photos").mkdir(exist_ok=True)
    Image.fromarray(np.full((HEIGHT, WIDTH, 3), 90, np.uint8)).save(folder / "photos" / "eye.png")
    return folder / "photos"


def _writer(name: str, text: Callable[[], str]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        photos(folder)
        (folder / name).write_text(text(), encoding="utf-8")
        return folder / name

    return make


def _coco(name: str, **changes) -> Callable[[Path], Path]:
    return _writer(name, lambda: json.dumps(good_coco(**changes)))  # NaN, Infinity as JSON writes them


def _box(name: str, bbox, sized: bool = True) -> Callable[[Path], Path]:
    image = {"id": 1, "file_name": "eye.png"} | ({"width": WIDTH, "height": HEIGHT} if sized else {})
    annotation = {"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox}
    return _coco(name, images=[image], annotations=[annotation])


def _image(name: str, **entry) -> Callable[[Path], Path]:
    return _coco(name, images=[{"id": 1, "width": WIDTH, "height": HEIGHT} | entry])


CASES: list[BadFile] = [
    BadFile("categories-object", _coco("cat-dict.json", categories={"1": "RL"}), EVALUATE, "categories: not a list"),
    BadFile("nested", _writer("nested.json", lambda: "[" * 100_000 + "]" * 100_000), EVALUATE, "nested too deeply"),
    BadFile("not-json", _writer("text.json", lambda: "images: none"), EVALUATE, "not valid json"),
    BadFile("bbox-nan", _box("nan.json", [float("nan"), 10, 20, 20]), EVALUATE, "annotations[0].bbox: not finite"),
    BadFile("bbox-inf", _box("inf.json", [10, 10, float("inf"), 20]), EVALUATE, "annotations[0].bbox: not finite"),
    BadFile("bbox-1e308", _box("huge.json", [1e308, 10, 20, 20], sized=False), EVALUATE, "annotations[0].bbox"),
    BadFile("bbox-bool", _box("bool.json", [True, 10, 20, 20]), EVALUATE, "annotations[0].bbox: not a number"),
    BadFile("bbox-big-int", _box("bigint.json", [10**400, 10, 20, 20]), EVALUATE, "annotations[0].bbox"),
    BadFile("bbox-three", _box("three.json", [10, 10, 20]), EVALUATE, "annotations[0].bbox"),
    BadFile("bbox-outside", _box("outside.json", [500, 10, 20, 20]), EVALUATE, "entirely outside the 64 x 48 photo"),
    BadFile(
        "bbox-outside-the-measured-photo",
        _box("outside-unsized.json", [10, 400, 20, 20], sized=False),
        EVALUATE,
        "entirely outside the 64 x 48 photo",
    ),
    BadFile("file-name-null", _image("null-name.json", file_name=None), EVALUATE, "images[0].file_name"),
    BadFile(
        "file-name-path",
        _image("escape.json", file_name="../../../etc/hostname"),
        EVALUATE,
        "images[0].file_name: must be a photo's file name",
    ),
    BadFile(
        "file-name-absolute",
        _image("absolute.json", file_name="/etc/hostname"),
        EVALUATE,
        "images[0].file_name: must be a photo's file name",
    ),
    BadFile(
        "file-name-windows-path",
        _image("windows.json", file_name="..\\..\\etc\\hostname"),
        EVALUATE,
        "images[0].file_name: must be a photo's file name",
    ),
    BadFile(
        "category-id-string",
        _coco("cat-id-text.json", annotations=[{"image_id": 1, "category_id": "1", "bbox": [1, 1, 2, 2]}]),
        EVALUATE,
        "annotations[0].category_id: no category has the id '1'",
    ),
    BadFile("bbox-sliver", _box("sliver.json", [WIDTH - 0.0001, 2, 3, 4]), EVALUATE, "bbox: covers no pixel"),
    BadFile("file-name-number", _image("number-name.json", file_name=7), EVALUATE, "images[0].file_name"),
    BadFile("image-id-list", _image("id-list.json", id=[1], file_name="eye.png"), EVALUATE, "images[0].id"),
    BadFile("width-bool", _image("width-bool.json", file_name="eye.png", width=True), EVALUATE, "images[0].width"),
    BadFile(
        "annotation-string", _coco("ann-text.json", annotations=["box"]), EVALUATE, "annotations[0]: not an object"
    ),
    BadFile(
        "category-id-list",
        _coco("cat-id.json", annotations=[{"image_id": 1, "category_id": [1], "bbox": [1, 1, 2, 2]}]),
        EVALUATE,
        "annotations[0].category_id",
    ),
    BadFile(
        "image-listed-twice",
        _coco("twice.json", images=[{"id": 1, "file_name": "eye.png"}, {"id": 2, "file_name": "eye.png"}]),
        EVALUATE,
        "images[1].file_name",
    ),
    BadFile("not-an-object", _writer("list.json", lambda: "[1, 2]"), EVALUATE, "not coco json"),
]
