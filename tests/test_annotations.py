"""The annotation store: every change on disk at once, annotators kept apart, COCO round trip."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from fundus_viewer.core.annotations import FOLDER_FILE, AnnotationError, AnnotationStore, new_box
from fundus_viewer.core.boxes import load_coco


def test_changes_persist_across_reopening(tmp_path):
    with AnnotationStore.for_folder(tmp_path) as store:
        a = store.add(new_box("eye.jpg", "RL", 10, 20, 30, 40, "ann"))
        b = store.add(new_box("eye.jpg", "RNFLD", 1, 2, 3, 4, "ann"))
        store.update(a.moved(11, 21, 31, 41))
        store.delete(b)
        store.set_reviewed("eye.jpg", "ann")
    with AnnotationStore.for_folder(tmp_path) as store:
        assert [(x.label, x.x, x.y, x.w, x.h) for x in store.boxes("eye.jpg")] == [("RL", 11, 21, 31, 41)]
        assert store.status("eye.jpg") == "reviewed" and store.status("other.jpg") == "not annotated"
        store.set_reviewed("eye.jpg", "ann", False)
        assert store.status("eye.jpg") == "annotated"
        store.add(b)  # undo of a delete brings the same box back
        assert store.get(b.box_id) == b


def test_an_annotator_cannot_change_anothers_box(tmp_path):
    with AnnotationStore.for_folder(tmp_path) as store:
        box = store.add(new_box("eye.jpg", "RL", 0, 0, 5, 5, "ann"))
        with pytest.raises(AnnotationError, match="belongs to ann"):
            store.update(replace(box.moved(1, 1, 5, 5), annotator="bob"))
        with pytest.raises(AnnotationError, match="belongs to ann"):
            store.delete(replace(box, annotator="bob"))
        assert store.get(box.box_id) == box


WRITER = textwrap.dedent(
    """
    import sys
    from fundus_viewer.core.annotations import AnnotationStore, new_box
    with AnnotationStore(sys.argv[1]) as store:
        for i in range(40):
            store.add(new_box(f"eye{i % 4}.jpg", "RL" if i % 2 else "RNFLD", i, i, 10, 10, sys.argv[2]))
    """
)


def test_two_annotators_on_one_folder_do_not_overwrite_each_other(tmp_path):
    AnnotationStore.for_folder(tmp_path).close()
    path = tmp_path / "fundus-viewer-annotations.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name],
            cwd=Path(__file__).parents[1],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("ann", "bob")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0], [p.stderr.read() for p in procs]
    with AnnotationStore(path) as store:
        boxes = store.boxes()
    assert len(boxes) == 80 and {b.annotator for b in boxes} == {"ann", "bob"}


def test_coco_round_trip(tmp_path):
    from PIL import Image

    for name, size in (("a.jpg", (600, 400)), ("b.jpg", (30, 20))):
        Image.new("RGB", size).save(tmp_path / name)
    with AnnotationStore.for_folder(tmp_path) as store:
        store.add(new_box("a.jpg", "RL", 10, 20, 30, 40, "ann"))
        store.add(new_box("a.jpg", "RNFLD", 5, 5, 10, 10, "bob"))
        store.add(new_box("b.jpg", "RL", 1, 1, 2, 2, "ann"))
        store.export_coco(tmp_path / "all.json", sizes={"a.jpg": (600, 400)})
        store.export_coco(tmp_path / "ann.json", annotator="ann")
    coco = load_coco(tmp_path / "all.json")
    assert coco["a.jpg"].boxes == {"RL": [(10, 20, 30, 40)], "RNFLD": [(5, 5, 10, 10)]} and coco["a.jpg"].width == 600
    assert load_coco(tmp_path / "ann.json")["a.jpg"].boxes["RNFLD"] == []
    other = tmp_path / "other"
    other.mkdir()
    with AnnotationStore.for_folder(other) as store:
        assert store.import_coco(tmp_path / "all.json", "carl") == 3
        assert sorted((b.image, b.label, b.x) for b in store.boxes()) == [
            ("a.jpg", "RL", 10),
            ("a.jpg", "RNFLD", 5),
            ("b.jpg", "RL", 1),
        ]
        assert {b.annotator for b in store.boxes()} == {"carl"}


def test_bad_files_and_boxes_get_messages(tmp_path):
    (tmp_path / "x.sqlite").write_bytes(b"not sqlite at all, just text" * 10)
    with pytest.raises(AnnotationError, match="not a Fundus Viewer annotation file"):
        AnnotationStore(tmp_path / "x.sqlite")
    with pytest.raises(AnnotationError, match="label"):
        new_box("a.jpg", "CUP", 0, 0, 1, 1, "ann")
    with pytest.raises(AnnotationError, match="positive"):
        new_box("a.jpg", "RL", 0, 0, 0, 1, "ann")


def test_files_in_folders_named_with_uri_characters_open_themselves(tmp_path):
    """'#', '?' and '%' in a path were read by SQLite as a URI's fragment, query and escapes."""
    from fundus_viewer.core.study.create import create_study
    from fundus_viewer.core.study.store import StudyFile
    from tests.test_study import write_arm

    folder = tmp_path / "clinic #2? 100%"
    folder.mkdir()
    with AnnotationStore.for_folder(folder) as store:
        store.add(new_box("eye.png", "RL", 1, 2, 3, 4, "ann"))
    assert (folder / FOLDER_FILE).is_file() and not (tmp_path / "clinic ").exists()
    with AnnotationStore.for_folder(folder) as store:
        assert len(store.boxes("eye.png")) == 1
    arm = write_arm(folder / "arm", "x", 1, size=(120, 160))
    create_study(folder / "s.fvstudy", {"a": sorted(arm.iterdir())}, size=32).close()
    with StudyFile(folder / "s.fvstudy", readonly=True) as study:
        assert len(study.case_ids()) == 1


def test_coco_export_gives_every_photo_its_size_not_only_the_one_on_screen(tmp_path):
    """The window passed the size of the photo on screen only, so every other image entry had null width
    and height. Sizes come from the photos' headers now, as the viewer shows them (EXIF-turned); a photo
    that is not there refuses the export with its name, never a null size."""
    from PIL import Image

    Image.new("RGB", (60, 40)).save(tmp_path / "shown.png")
    Image.new("RGB", (50, 30)).save(tmp_path / "other.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown turned a quarter: 20 wide, 70 high on screen
    Image.new("RGB", (70, 20)).save(tmp_path / "turned.jpg", exif=exif)
    with AnnotationStore(tmp_path / FOLDER_FILE) as store:
        for name in ("shown.png", "other.png", "turned.jpg"):
            store.add(new_box(name, "RL", 1, 1, 5, 5, "ann"))
        store.export_coco(tmp_path / "boxes.json", sizes={"shown.png": (60, 40)})
        store.add(new_box("gone.png", "RL", 1, 1, 5, 5, "ann"))
        with pytest.raises(AnnotationError, match=r"gone\.png \(not there\)"):
            store.export_coco(tmp_path / "again.json", sizes={"shown.png": (60, 40)})
    assert not (tmp_path / "again.json").exists()
    coco = load_coco(tmp_path / "boxes.json")
    sizes = {name: (entry.width, entry.height) for name, entry in coco.items()}
    assert sizes == {"shown.png": (60, 40), "other.png": (50, 30), "turned.jpg": (20, 70)}
