"""One way of writing files: whole or not at all (core/atomic.py), and SQLite transactions that report
a full disk as "not saved" (core/sqlite_file.py)."""

import sqlite3

import pytest

from fundus_viewer.core.annotations import AnnotationError, AnnotationStore, new_box
from fundus_viewer.core.atomic import atomic_write


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path):
    path = tmp_path / "table.csv"
    atomic_write(path, "old\n")

    def half_then_fail(stream):
        stream.write(b"new, half written")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_text_bytes_and_writers_all_land_whole(tmp_path):
    assert atomic_write(tmp_path / "a.txt", "é\n").read_bytes() == "é\n".encode()
    assert atomic_write(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert atomic_write(tmp_path / "c.bin", lambda s: s.write(b"xyz")).read_bytes() == b"xyz"


def test_two_writers_of_one_file_never_share_a_partial_file(tmp_path, monkeypatch):
    """A fixed ``NAME.partial`` let two processes (a GUI and a CLI run on one folder) write into the
    same temporary file; each write now has its own."""
    import fundus_viewer.core.atomic as atomic

    seen = []
    real = atomic.partial_path
    monkeypatch.setattr(atomic, "partial_path", lambda path: seen.append(real(path)) or seen[-1])
    atomic_write(tmp_path / "x", b"1")
    atomic_write(tmp_path / "x", b"2")
    assert len(set(seen)) == 2 and all(p.parent == tmp_path and p.name.endswith(".partial") for p in seen)


def test_a_full_disk_says_not_saved_and_keeps_what_was_saved(tmp_path):
    """After SQLITE_FULL SQLite has rolled back already; the transaction's own ROLLBACK then raised a raw
    "cannot rollback - no transaction is active" instead of saying the box was not saved."""
    store = AnnotationStore(tmp_path / "annotations.sqlite")
    store.add(new_box("p.png", "RL", 1, 1, 5, 5, "me"))
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 1}")  # the file cannot grow: a full disk to SQLite
    with pytest.raises(AnnotationError, match="could not be saved.*full.*not recorded"):
        for _ in range(500):
            store.add(new_box("p.png", "RL", 1, 1, 5, 5, "me" + "x" * 500))
    saved = len(store.boxes())
    store.close()
    with AnnotationStore(tmp_path / "annotations.sqlite") as reopened:
        assert len(reopened.boxes()) == saved >= 1
        assert reopened.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_error_inside_the_transaction_rolls_it_back(tmp_path):
    from fundus_viewer.core.sqlite_file import write_transaction

    db = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    db.execute("CREATE TABLE t (v)")
    with pytest.raises(ZeroDivisionError), write_transaction(db):
        db.execute("INSERT INTO t VALUES (1)")
        raise ZeroDivisionError
    assert not db.in_transaction and db.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_a_generator_given_as_a_classifier_is_named_without_importing_the_gan_code(tmp_path):
    """The Patho-GAN's kind was added to the table of titles when its module was imported, so the CLI
    (which never imports it to load a classifier) called a generator file "not a Fundus Viewer model"."""
    import subprocess
    import sys

    import torch
    from safetensors.torch import save_file

    path = tmp_path / "patho-gan.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={"kind": "fundus-viewer/patho-gan", "format_version": "1"})
    code = (
        "import sys; from fundus_viewer.core.models.checkpoint import load_classifier\n"
        "try: load_classifier(sys.argv[1])\n"
        "except Exception as exc: print(exc)\n"
        "assert 'fundus_viewer.core.gan.checkpoint' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert "Patho-GAN generator" in out, out
