"""COCO box files are checked entry by entry (issue #19 item 7): a bad one is refused in one line that
names the file and the entry, before any model is loaded; a box partly outside its photo is clipped,
with a warning; the window's import says so in a dialog."""

from __future__ import annotations

import json

import pytest
from bad_files.coco import CASES, HEIGHT, WIDTH, good_coco, photos

import fundus_viewer.cli.evaluate as evaluate_cli
from fundus_viewer.cli.main import main
from fundus_viewer.core.annotations import AnnotationStore
from fundus_viewer.core.boxes import load_coco
from fundus_viewer.core.errors import BoxesError


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_evaluate_refuses_a_bad_box_file_before_loading_a_model(case, tmp_path, capsys, monkeypatch):
    def no_model(args):
        raise AssertionError("the model was loaded before the box file was refused")

    monkeypatch.setattr(evaluate_cli, "open_visualizer", no_model)
    bad = case.make(tmp_path)
    code = main(["evaluate", "--images", str(tmp_path / "photos"), "--boxes", str(bad)])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert code == 2 and "Traceback" not in err
    assert last.startswith("fundus-viewer evaluate: error: ") and bad.name in last, last
    assert case.says.lower() in last.lower(), last


def _write(tmp_path, coco, name="boxes.json"):
    path = tmp_path / name
    path.write_text(json.dumps(coco), encoding="utf-8")
    return path


def test_a_box_partly_outside_its_photo_is_clipped_with_a_warning(tmp_path):
    path = _write(tmp_path, good_coco(annotations=[{"image_id": 1, "category_id": 1, "bbox": [-5, 40, 30, 20]}]))
    notes: list[str] = []
    (entry,) = load_coco(path, notes=notes).values()
    assert entry.boxes["RL"] == [(0.0, 40.0, 25.0, HEIGHT - 40.0)]
    assert notes == [f"{path}: annotations[0].bbox: clipped to the {WIDTH} x {HEIGHT} photo"]


def test_evaluate_measures_photos_of_unsized_entries_and_warns_of_clipping(tmp_path, capsys, monkeypatch):
    import fundus_viewer.core.boxes as boxes

    photos(tmp_path)
    image = {"id": 1, "file_name": "eye.png"}  # no size given: the photo's header says 64 x 48
    bbox = [50, 0, 30, 10]
    path = _write(tmp_path, good_coco(images=[image], annotations=[{"image_id": 1, "category_id": 1, "bbox": bbox}]))
    loaded = []
    real = boxes.load_coco
    monkeypatch.setattr(boxes, "load_coco", lambda *a, **k: loaded.append(real(*a, **k)) or loaded[-1])

    def stop(args):
        raise BoxesError("stopped before the model")

    monkeypatch.setattr(evaluate_cli, "open_visualizer", stop)
    assert main(["evaluate", "--images", str(tmp_path / "photos"), "--boxes", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"warning: {path}: annotations[0].bbox: clipped to the 64 x 48 photo" in err, err
    assert loaded[0]["eye.png"].boxes["RL"] == [(50.0, 0.0, 14.0, 10.0)]


def test_a_good_file_still_loads_whole(tmp_path):
    coco = good_coco()
    coco["categories"].append({"id": 3, "name": "cup"})  # other categories are ignored
    coco["annotations"].append({"image_id": 1, "category_id": 3, "bbox": "whatever"})
    coco["annotations"].append({"image_id": 1, "category_id": 2, "bbox": [0, 0, WIDTH, HEIGHT]})
    (entry,) = load_coco(_write(tmp_path, coco)).values()
    assert entry.boxes == {"RL": [(10.0, 10.0, 20.0, 20.0)], "RNFLD": [(0.0, 0.0, 64.0, 48.0)]}


def test_a_refused_import_adds_nothing(tmp_path):
    good = [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    path = _write(tmp_path, good_coco(annotations=good + [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, None]}]))
    with AnnotationStore(tmp_path / "a.sqlite") as store:
        with pytest.raises(BoxesError, match=r"boxes.json: annotations\[1\].bbox: not a number \(null\)"):
            store.import_coco(path, "ann")
        assert store.boxes() == []


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_the_window_says_why_a_box_file_is_refused(qtbot, tiny_checkpoint, tmp_path, monkeypatch, make_fundus):
    """Categories as an object, NaN boxes, JSON nested too deeply: AttributeError, ValueError,
    RecursionError out of the menu action, and no dialog."""
    from main_windows import make_window
    from PIL import Image
    from PySide6.QtWidgets import QMessageBox
    from test_review import open_and_wait

    folder = tmp_path / "view"  # a photo the window analyses; the box files name eye.png, not here
    folder.mkdir()
    Image.fromarray(make_fundus()).save(folder / "eye.png")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    window = make_window(qtbot, tiny_checkpoint)
    open_and_wait(qtbot, window, folder / "eye.png")
    ids = ("categories-object", "bbox-nan", "nested", "file-name-path")
    for case in [c for c in CASES if c.id in ids]:
        bad = case.make(tmp_path)
        window.annotations.import_coco(str(bad))
        title, text = shown.pop()
        assert title == "Boxes not imported" and bad.name in text and case.says.lower() in text.lower(), text
    assert window.view.boxes.items == {} and not shown
    clipped = _write(tmp_path, good_coco(annotations=[{"image_id": 1, "category_id": 1, "bbox": [60, 40, 30, 30]}]))
    window.annotations.import_coco(str(clipped))
    (box,) = [i.box for i in window.view.boxes.items.values()]
    assert (box.x, box.y, box.w, box.h) == (60, 40, 4, 8)
    assert shown and "clipped to the 64 x 48 photo" in shown[0][1], shown
    shown.clear()  # twelve clipped boxes: a count and the first ten, not a dialog as tall as the file
    many = [{"image_id": 1, "category_id": 2, "bbox": [60, 1 + i, 30, 2]} for i in range(12)]
    window.annotations.import_coco(str(_write(tmp_path, good_coco(annotations=many), "many.json")))
    ((title, text),) = shown
    lines = text.splitlines()
    assert lines[0] == "12 warnings; the first 10:" and len(lines) == 12 and lines[-1] == "…and 2 more", lines
    assert lines[10].endswith("annotations[9].bbox: clipped to the 64 x 48 photo"), lines
    window.close()


# -- issue #19 item 7, review: names with folders, slivers, exporters' habits -------------------------

_CATEGORIES = [{"id": 0, "name": "RL", "supercategory": ""}, {"id": 1, "name": "RNFLD", "supercategory": ""}]


def _annotation(number, image_id, category_id, bbox):
    return {
        "id": number,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": [],
        "bbox": bbox,
        "ignore": 0,
        "iscrowd": 0,
        "area": bbox[2] * bbox[3],
    }


def label_studio_coco() -> dict:
    """As Label Studio exports it: ids from 0, names under ``images/`` (with a backslash on Windows)."""
    return {
        "images": [
            {"width": WIDTH, "height": HEIGHT, "id": 0, "file_name": "images/abc123-eye.png"},
            {"width": WIDTH, "height": HEIGHT, "id": 1, "file_name": "images\\def456-eye.png"},
        ],
        "categories": _CATEGORIES,
        "annotations": [_annotation(0, 0, 0, [1, 2, 3, 4]), _annotation(1, 1, 1, [5, 6, 7, 8])],
        "info": {"year": 2024, "version": "1.0", "contributor": "Label Studio"},
    }


def cvat_coco() -> dict:
    """As CVAT exports it: licences, ids from 1, photos in class folders."""
    return {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"contributor": "", "date_created": "", "description": "", "url": "", "version": "", "year": ""},
        "categories": [{"id": 1, "name": "RL", "supercategory": ""}, {"id": 2, "name": "RNFLD", "supercategory": ""}],
        "images": [
            {
                "id": 1,
                "width": WIDTH,
                "height": HEIGHT,
                "file_name": "glaucoma/eye.png",
                "license": 0,
                "date_captured": 0,
            },
            {
                "id": 2,
                "width": WIDTH,
                "height": HEIGHT,
                "file_name": "normal/gone.png",
                "license": 0,
                "date_captured": 0,
            },
        ],
        "annotations": [
            _annotation(1, 1, 1, [1.5, 2.0, 3.0, 4.0]) | {"attributes": {"occluded": False}},
            _annotation(2, 2, 2, [1, 1, 2, 2]),
        ],
    }


def test_a_label_studio_file_with_folders_in_its_names_loads(tmp_path):
    loaded = load_coco(_write(tmp_path, label_studio_coco()))
    assert {name: entry.boxes for name, entry in loaded.items()} == {
        "images/abc123-eye.png": {"RL": [(1.0, 2.0, 3.0, 4.0)], "RNFLD": []},
        "images/def456-eye.png": {"RL": [], "RNFLD": [(5.0, 6.0, 7.0, 8.0)]},
    }


def test_evaluate_finds_photos_in_class_folders_and_warns_of_missing_ones(tmp_path, capsys):
    root = tmp_path / "root"
    (root / "glaucoma").mkdir(parents=True)
    (photos(tmp_path) / "eye.png").rename(root / "glaucoma" / "eye.png")
    path = _write(tmp_path, cvat_coco())
    loaded = evaluate_cli.load_boxes(str(path), str(root))
    assert loaded["glaucoma/eye.png"].boxes["RL"] == [(1.5, 2.0, 3.0, 4.0)]
    err = capsys.readouterr().err
    assert f"warning: {path}: normal/gone.png: no such photo in {root}" in err, err
    assert "glaucoma/eye.png" not in err


def test_evaluate_refuses_a_name_that_leads_out_of_the_photo_folder_by_a_link(tmp_path, capsys, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(photos(tmp_path))  # photos/ is outside root
    path = _write(tmp_path, good_coco(images=[{"id": 1, "file_name": "link/eye.png"}]))
    monkeypatch.setattr(evaluate_cli, "open_visualizer", lambda args: pytest.fail("the model was loaded"))
    assert main(["evaluate", "--images", str(root), "--boxes", str(path)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: {path}: 'link/eye.png' leads out of {root}" in last, last


@pytest.mark.parametrize(
    "name", ["/etc/hostname", "C:/photos/eye.png", "c:eye.png", "..\\..\\etc\\hostname", "a/../../b"]
)
def test_paths_out_of_the_folder_are_still_refused(tmp_path, name):
    path = _write(tmp_path, good_coco(images=[{"id": 1, "file_name": name}]))
    with pytest.raises(BoxesError, match=r"images\[0\].file_name: must be a photo's file name"):
        load_coco(path)


def test_import_files_boxes_under_the_photo_name_and_warns_of_missing_photos(tmp_path):
    folder = photos(tmp_path)
    path = _write(tmp_path, cvat_coco())
    notes: list[str] = []
    with AnnotationStore(tmp_path / "a.sqlite") as store:
        assert store.import_coco(path, "ann", folder, notes) == 2
        assert sorted((b.image, b.label) for b in store.boxes()) == [("eye.png", "RL"), ("gone.png", "RNFLD")]
    assert notes == [f"{path}: normal/gone.png: no photo gone.png in {folder}"]


def test_import_refuses_two_photos_of_the_same_name_in_different_folders(tmp_path):
    coco = cvat_coco()
    coco["images"][1]["file_name"] = "normal/eye.png"
    path = _write(tmp_path, coco)
    with AnnotationStore(tmp_path / "a.sqlite") as store:
        with pytest.raises(BoxesError, match=r"'glaucoma/eye.png' and 'normal/eye.png' would both be eye.png"):
            store.import_coco(path, "ann", photos(tmp_path))
        assert store.boxes() == []


@pytest.mark.parametrize("bbox", [[WIDTH - 0.0001, 2, 3, 4], [10.6, 10.6, 0.3, 0.3], [2, HEIGHT - 0.4, 5, 5]])
def test_a_box_covering_no_pixel_is_refused(tmp_path, bbox):
    from fundus_viewer.core.metrics import boxes_mask

    path = _write(tmp_path, good_coco(annotations=[{"image_id": 1, "category_id": 1, "bbox": bbox}]))
    with pytest.raises(BoxesError, match=r"annotations\[0\].bbox: covers no pixel"):
        load_coco(path, notes=[])
    assert not boxes_mask((HEIGHT, WIDTH), [bbox]).any()  # what the evaluation would have scored


def test_a_box_covering_one_pixel_centre_is_kept(tmp_path):
    path = _write(tmp_path, good_coco(annotations=[{"image_id": 1, "category_id": 1, "bbox": [10.4, 10.4, 0.2, 0.2]}]))
    (entry,) = load_coco(path).values()
    assert entry.boxes["RL"] == [(10.4, 10.4, 0.2, 0.2)]


def test_a_width_of_zero_means_unknown_and_the_photo_is_measured(tmp_path):
    from fundus_viewer.core.images import photo_sizes

    folder = photos(tmp_path)
    image = {"id": 1, "file_name": "eye.png", "width": 0, "height": 0}
    path = _write(
        tmp_path, good_coco(images=[image], annotations=[{"image_id": 1, "category_id": 1, "bbox": [60, 1, 9, 9]}])
    )
    notes: list[str] = []
    (entry,) = load_coco(path, photo_sizes(folder), notes).values()
    assert (entry.width, entry.height, entry.boxes["RL"]) == (None, None, [(60.0, 1.0, 4.0, 9.0)])
    assert notes == [f"{path}: annotations[0].bbox: clipped to the 64 x 48 photo"]


def test_whole_number_float_ids_are_whole_numbers(tmp_path):
    coco = good_coco(
        images=[{"id": 1.0, "file_name": "eye.png", "width": 64.0, "height": 48.0}],
        categories=[{"id": 1.0, "name": "RL"}],
        annotations=[{"image_id": 1, "category_id": 1.0, "bbox": [1, 2, 3, 4]}],
    )
    (entry,) = load_coco(_write(tmp_path, coco)).values()
    assert entry.boxes["RL"] == [(1.0, 2.0, 3.0, 4.0)]
    coco["images"][0]["id"] = 1.5
    with pytest.raises(BoxesError, match=r"images\[0\].id: not an integer or string id \(1.5\)"):
        load_coco(_write(tmp_path, coco))


def test_a_category_id_that_no_category_has_is_refused(tmp_path):
    path = _write(tmp_path, good_coco(annotations=[{"image_id": 1, "category_id": "1", "bbox": [1, 2, 3, 4]}]))
    with pytest.raises(BoxesError, match=r"annotations\[0\].category_id: no category has the id '1'"):
        load_coco(path)


def test_photo_sizes_reads_headers_inside_the_folder_only(tmp_path):
    from fundus_viewer.core.images import photo_sizes

    folder = photos(tmp_path)
    (folder / "sub").mkdir()
    (folder / "eye.png").rename(folder / "sub" / "eye.png")
    (tmp_path / "out.png").write_bytes((folder / "sub" / "eye.png").read_bytes())
    sizes = photo_sizes(folder)
    assert (sizes("sub/eye.png"), sizes("eye.png"), sizes("../out.png")) == ((64, 48), None, None)
    assert photo_sizes(folder / "sub", by_name=True)("anything/eye.png") == (64, 48)
