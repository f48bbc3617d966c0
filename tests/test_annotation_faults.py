"""Annotation files under faults (issue #19): a full disk at the first write, a full or read-only file
while drawing, and a drag in draw mode that starts on a box."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import fundus_viewer.core.annotations as annotations
from fundus_viewer.core.annotations import FOLDER_FILE, AnnotationError, AnnotationStore, new_box


def _full_disk_connect(monkeypatch, pages: int = 1):
    """Connections that cannot grow the file past ``pages`` pages: a full disk, as SQLite reports it."""
    real = annotations.connect

    def connect(uri):
        db = real(uri)
        db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    monkeypatch.setattr(annotations, "connect", connect)


def _save_a_box_and_reopen(path):
    with AnnotationStore(path) as store:
        box = store.add(new_box("eye.png", "RL", 1, 2, 30, 40, "ann"))
    with AnnotationStore(path) as store:
        assert store.boxes("eye.png") == [box]
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_full_disk_at_the_first_write_leaves_a_file_that_opens_later(tmp_path, monkeypatch):
    """The application id was written on its own before the schema: when the schema then did not fit,
    the file stayed half made and every later open said "no such table: meta"."""
    path = tmp_path / FOLDER_FILE
    _full_disk_connect(monkeypatch)
    with pytest.raises(AnnotationError, match=f"{FOLDER_FILE}: could not create.*full.*nothing was saved"):
        AnnotationStore(path)
    monkeypatch.undo()  # space again
    _save_a_box_and_reopen(path)


def test_an_empty_file_is_a_new_annotation_file(tmp_path):
    """What a full disk leaves at the very first write: 0 bytes."""
    path = tmp_path / FOLDER_FILE
    path.write_bytes(b"")
    _save_a_box_and_reopen(path)


def test_a_file_size_limit_at_the_first_write_then_space_again(tmp_path):
    """A real write failure (RLIMIT_FSIZE 0: every write to a file fails, as on a full disk) in another
    process, then the file is opened here and takes a box."""
    path = tmp_path / FOLDER_FILE
    code = textwrap.dedent(
        """
        import resource, signal, sys
        from fundus_viewer.core.annotations import AnnotationError, AnnotationStore
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            AnnotationStore(sys.argv[1])
        except AnnotationError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert "could not create" in out.stdout and "nothing was saved" in out.stdout, out
    _save_a_box_and_reopen(path)


def test_a_file_left_half_made_by_an_older_version_is_made_whole(tmp_path):
    """Our application id and no tables: the old code's leftover of a full disk."""
    path = tmp_path / FOLDER_FILE
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA application_id = {annotations.APPLICATION_ID}")
    db.close()
    _save_a_box_and_reopen(path)


def test_a_foreign_sqlite_file_is_still_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(AnnotationError, match="not a Fundus Viewer annotation file"):
        AnnotationStore(path)


# -- the review window ----------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path, make_fundus):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(make_fundus()).save(folder / "a-eye.png")
    return folder


def _fill(db, pages_left: int = 0) -> None:
    """Fill the file up to its last page, and that page too, as far as rows of any size still fit."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + pages_left}")
    for size in (3000, 1000, 300, 100, 30, 10, 1):
        try:
            while True:
                db.execute(
                    "INSERT INTO boxes VALUES (hex(randomblob(8)), 'filler.png', 'RL', 0, 0, 1, 1, ?, '', '')",
                    ("x" * size,),
                )
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
@pytest.mark.parametrize("fault", ["full disk", "read-only file"])
def test_a_box_that_cannot_be_saved_is_said_and_not_shown(qtbot, tiny_checkpoint, photos, monkeypatch, fault):
    from main_windows import make_window
    from PySide6.QtWidgets import QMessageBox
    from test_review import drag, open_and_wait

    with AnnotationStore.for_folder(photos) as store:
        kept = store.add(new_box("a-eye.png", "RNFLD", 10, 10, 50, 50, "dr-ann"))
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    window = make_window(qtbot, tiny_checkpoint)
    open_and_wait(qtbot, window, photos / "a-eye.png")
    db = window.annotations.store.db
    if fault == "full disk":
        _fill(db)
    else:
        db.execute("PRAGMA query_only = ON")  # SQLite's answer for a read-only file: SQLITE_READONLY
    window.annotations.draw_rl.trigger()
    drag(window, (100, 80), (220, 200))
    assert [title for title, _ in shown] == ["Box not saved"], shown
    assert FOLDER_FILE in shown[0][1] and re.search("not recorded|nothing was saved", shown[0][1])
    assert ("full" if fault == "full disk" else "readonly") in shown[0][1]
    layer = window.view.boxes
    assert [i.box for i in layer.items.values()] == [kept]  # the screen shows what the file holds
    assert window.annotations.undo_stack.count() == 0
    window.close()
    with AnnotationStore.for_folder(photos) as store:
        assert store.boxes("a-eye.png") == [kept]


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_an_undo_that_cannot_be_saved_is_said_and_the_screen_shows_the_file(
    qtbot, tiny_checkpoint, photos, monkeypatch
):
    """Undo and redo run inside the undo stack, not through the controller's push: their failures were
    dropped without a word (the box stayed on screen and in the file, the stack forgot the command)."""
    from main_windows import make_window
    from PySide6.QtWidgets import QMessageBox
    from test_review import drag, open_and_wait

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    window = make_window(qtbot, tiny_checkpoint)
    open_and_wait(qtbot, window, photos / "a-eye.png")
    window.annotations.draw_rl.trigger()
    drag(window, (100, 80), (220, 200))
    (drawn,) = [i.box for i in window.view.boxes.items.values()]
    window.annotations.store.db.execute("PRAGMA query_only = ON")
    window.annotations.undo.trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert shown[0][0] == "Not undone" and "readonly" in shown[0][1], shown
    assert [i.box for i in window.view.boxes.items.values()] == [drawn]
    window.annotations.store.db.execute("PRAGMA query_only = OFF")
    window.close()
    with AnnotationStore.for_folder(photos) as store:
        assert store.boxes("a-eye.png") == [drawn]


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
@pytest.mark.parametrize("start", [(160, 140), (220, 200)], ids=["inside", "on-the-resize-handle"])
def test_in_draw_mode_a_drag_that_starts_on_a_box_draws_a_new_one(qtbot, tiny_checkpoint, photos, start):
    """The box under the mouse took the drag and moved (or resized), whatever mode was on."""
    from main_windows import make_window
    from test_review import drag, open_and_wait

    with AnnotationStore.for_folder(photos) as store:
        kept = store.add(new_box("a-eye.png", "RNFLD", 100, 80, 120, 120, "dr-ann"))
    window = make_window(qtbot, tiny_checkpoint)
    open_and_wait(qtbot, window, photos / "a-eye.png")
    window.annotations.draw_rl.trigger()
    drag(window, start, (330, 300), like_a_hand=True)
    layer = window.view.boxes
    assert layer.items[kept.box_id].box == kept and layer.items[kept.box_id].geometry() == (100, 80, 120, 120)
    (drawn,) = [i.box for i in layer.items.values() if i.box.box_id != kept.box_id]
    assert drawn.label == "RL" and (drawn.x, drawn.y) == (
        pytest.approx(start[0], abs=3),
        pytest.approx(start[1], abs=3),
    )
    with AnnotationStore.for_folder(photos) as store:
        assert sorted(store.boxes("a-eye.png"), key=lambda b: b.label) == [kept, drawn][::-1]
    window.annotations.end_drawing()  # out of draw mode a drag on the box moves it again
    drag(window, (120, 100), (140, 130), like_a_hand=True)
    assert layer.items[kept.box_id].box.x == pytest.approx(120, abs=3)
    window.close()
