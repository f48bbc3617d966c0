"""Faults in the middle of a --data run (issue #19 item 13): a photo's files are all there or none of
them, after an error or a SIGKILL between them, and a resumed run completes what is incomplete; a full
disk names the file it could not write and leaves no partial file."""

from __future__ import annotations

import csv
import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fundus_viewer.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SET = {"pathology-rl.npy", "pathology-rl.png", "pathology-rnfld.npy", "pathology-rnfld.png", "maps.json"}


@pytest.fixture
def data(tmp_path, make_fundus):
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(3):
        rgb = make_fundus(height=200, width=260, centre=(130, 100), radius=90, seed=i)
        Image.fromarray(rgb).save(folder / f"p{i}.png")
    return folder


def heatmap_argv(data, out, model, *extra) -> list[str]:
    return [
        "heatmap",
        "--data",
        str(data),
        "--out",
        str(out),
        "--model",
        str(model),
        "--full-maps",
        "--batch-size",
        "1",
        "--workers",
        "0",
        "--no-progress",
        *extra,
    ]


def photo_sets(full: Path) -> dict[str, set[str]]:
    """Every entry of ``full/`` by photo (its stem ``NNNNNN-pI``): the files it has there."""
    sets: dict[str, set[str]] = {}
    for entry in full.iterdir():
        stem, _, rest = entry.name.partition(".")
        sets.setdefault(stem, set()).add(rest if stem else entry.name)
    return sets


def summary(out: Path) -> dict[int, dict]:
    with (out / "summary.csv").open(newline="") as stream:
        return {int(row["index"]): row for row in csv.DictReader(stream)}


def fail_on(path: Path) -> bool:
    """Photo 1's second PNG: written after three of its files."""
    return path.name == "000001-p1.pathology-rnfld.png"


def test_an_error_between_a_photos_files_leaves_none_of_them(data, tmp_path, tiny_checkpoint, monkeypatch):
    import fundus_viewer.core.overlay as overlay

    real = overlay.write_png

    def write_png(path, pixels):
        if fail_on(Path(path)):
            raise RuntimeError("the encoder fell over")
        return real(path, pixels)

    monkeypatch.setattr(overlay, "write_png", write_png)
    out = tmp_path / "out"
    assert main(heatmap_argv(data, out, tiny_checkpoint)) == 1
    assert "encoder fell over" in summary(out)[1]["error"]
    assert photo_sets(out / "full") == {"000000-p0": SET, "000002-p2": SET}
    monkeypatch.setattr(overlay, "write_png", real)
    assert main(heatmap_argv(data, out, tiny_checkpoint, "--resume", "--retry-errors")) == 0
    assert photo_sets(out / "full") == {"000000-p0": SET, "000001-p1": SET, "000002-p2": SET}


KILLED_RUN = """
import os, signal, sys
from pathlib import Path
import fundus_viewer.core.overlay as overlay
real = overlay.write_png
def write_png(path, pixels):
    if Path(path).name == "000001-p1.pathology-rnfld.png":
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, pixels)
overlay.write_png = write_png
from fundus_viewer.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_between_a_photos_files_then_resume(data, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, *heatmap_argv(data, out, tiny_checkpoint)],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # photo 0 whole; photo 1 killed after three of its files: none of them in sight
    assert {stem: files for stem, files in photo_sets(out / "full").items() if stem} == {"000000-p0": SET}
    (data / "p1.png").write_bytes(b"no longer a photo")  # the resumed run cannot redo it
    assert main(heatmap_argv(data, out, tiny_checkpoint, "--resume")) == 1
    rows = summary(out)
    assert not rows[0]["error"] and rows[1]["error"] and not rows[2]["error"]
    assert photo_sets(out / "full") == {"000000-p0": SET, "000002-p2": SET}  # nothing left of the killed photo


def test_resume_redoes_a_recorded_photo_whose_files_are_incomplete(data, tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "out"
    assert main(heatmap_argv(data, out, tiny_checkpoint)) == 0
    (out / "full" / "000002-p2.pathology-rnfld.png").unlink()
    assert main(heatmap_argv(data, out, tiny_checkpoint, "--resume")) == 0
    assert "1 photo(s) in" in capsys.readouterr().err.splitlines()[-1]  # photo 2 redone, 0 and 1 skipped
    assert photo_sets(out / "full") == {"000000-p0": SET, "000001-p1": SET, "000002-p2": SET}


def disk_full_for(suffix: str, monkeypatch) -> None:
    """``fsync`` of any file whose name holds ``suffix`` fails as on a full disk (Linux: the name of an
    open file is in /proc)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell the files apart")
    real = os.fsync

    def fsync(fd):
        if suffix in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_says_so_names_the_file_and_leaves_no_partial_file(data, tmp_path, tiny_checkpoint, capsys):
    from fundus_viewer.core.atomic import atomic_write

    with pytest.MonkeyPatch.context() as patch:
        disk_full_for(".npy", patch)
        with pytest.raises(OSError) as raised:
            atomic_write(tmp_path / "a.npy", b"1234")
        assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "a.npy")
        assert list(tmp_path.glob("a.npy*")) == []

        out = tmp_path / "out"
        assert main(heatmap_argv(data, out, tiny_checkpoint)) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        "fundus-viewer heatmap: error: could not write the outputs: the disk is full: "
        f"{out / 'full' / '000000-p0.pathology-rl.npy'}"
    )
    assert [p for p in out.rglob("*") if p.name.endswith(".partial")] == []
    assert list((out / "full").iterdir()) == []


def test_a_full_disk_in_a_photo_list_run_names_the_file(data, tmp_path, tiny_checkpoint, monkeypatch, capsys):
    disk_full_for(".pathology-rnfld.npy", monkeypatch)
    out = tmp_path / "out"
    assert main(["heatmap", str(data / "p0.png"), "--out", str(out), "--model", str(tiny_checkpoint)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(f"the disk is full: {out / 'p0.pathology-rnfld.npy'}")
    assert list(out.iterdir()) == []  # not the maps written before the disk filled, nor a partial file


def test_an_error_between_a_photos_vessel_pngs_leaves_neither(data, tmp_path, tiny_vessels, monkeypatch):
    import fundus_viewer.core.overlay as overlay

    real = overlay.write_png

    def write_png(path, pixels):
        if Path(path).name == "000001-p1.vessels-mask.png":
            raise RuntimeError("the encoder fell over")
        return real(path, pixels)

    monkeypatch.setattr(overlay, "write_png", write_png)
    out = tmp_path / "v"
    argv = ["segment-vessels", "--data", str(data), "--out", str(out), "--model", str(tiny_vessels), "--workers", "0"]
    assert main(argv) == 1
    assert sorted(p.name for p in (out / "vessels").iterdir()) == [
        f"00000{i}-p{i}.vessels-{kind}.png" for i in (0, 2) for kind in ("mask", "prob")
    ]


def fail_second_move_of(stem: str, monkeypatch) -> None:
    """``os.replace`` fails (a file held open, as on Windows) on the second of ``stem``'s files to
    move from its staging folder into the outputs, each time it is tried."""
    real, moves = os.replace, []

    def replace(src, dst):
        src, dst = Path(src), Path(dst)
        if src.parent.name.endswith(".partial") and dst.parent != src.parent and dst.name.startswith(stem + "."):
            moves.extend([dst.name] if dst.name not in moves else [])
            if moves[1:] and dst.name == moves[1]:
                raise PermissionError(errno.EACCES, "Permission denied", str(src), None, str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def test_a_failed_move_is_that_photos_error_and_the_run_goes_on(data, tmp_path, tiny_checkpoint, monkeypatch):
    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as patch:
        fail_second_move_of("000001-p1", patch)
        assert main(heatmap_argv(data, out, tiny_checkpoint)) == 1
    rows = summary(out)
    assert "000001-p1" in rows[1]["error"] and not rows[0]["error"] and not rows[2]["error"]
    assert photo_sets(out / "full") == {"000000-p0": SET, "000002-p2": SET}
    assert main(heatmap_argv(data, out, tiny_checkpoint, "--resume", "--retry-errors")) == 0
    assert photo_sets(out / "full") == {"000000-p0": SET, "000001-p1": SET, "000002-p2": SET}


def test_a_failed_move_over_an_earlier_set_leaves_no_mix(data, tmp_path, tiny_checkpoint, monkeypatch, capsys):
    out = tmp_path / "out"
    argv = ["heatmap", str(data / "p0.png"), str(data / "p1.png"), "--out", str(out), "--model", str(tiny_checkpoint)]
    assert main(argv) == 0
    fail_second_move_of("p0", monkeypatch)
    assert main(argv) == 1  # p0 failed, p1 written still
    assert "error: could not move" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == sorted(f"p1.{name}" for name in SET)


def test_a_staging_folder_that_could_not_be_removed_stops_nothing(data, tmp_path, tiny_checkpoint, monkeypatch):
    import fundus_viewer.core.batch.outputs as outputs

    out = tmp_path / "out"
    (out / ".p0.partial").mkdir(parents=True)
    (out / ".p0.partial" / "p0.maps.json").write_text("{}")
    monkeypatch.setattr(outputs.shutil, "rmtree", lambda *a, **k: None)  # held open by an antivirus
    assert main(["heatmap", str(data / "p0.png"), "--out", str(out), "--model", str(tiny_checkpoint)]) == 0
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {f"p0.{name}" for name in SET}


def test_a_photo_list_run_removes_the_staging_folders_a_kill_left(data, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    for name in (".p1.partial", ".p1.k2x_9abc.partial", ".p2.partial", ".keep"):
        (out / name).mkdir(parents=True)
    (data / "p1.png").write_bytes(b"no longer a photo")  # never written in this run: cleaned all the same
    argv = ["heatmap", str(data / "p0.png"), str(data / "p1.png"), "--out", str(out), "--model", str(tiny_checkpoint)]
    assert main(argv) == 1
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".keep", ".p2.partial"]


def test_methods_given_twice_count_once(data, tmp_path, tiny_checkpoint, capsys):
    from fundus_viewer.cli.common import parse_methods
    from fundus_viewer.core.batch.outputs import incomplete

    assert parse_methods("gbp, pathology,gbp") == ("gbp", "pathology")
    (tmp_path / "000000-x.a").write_text("")
    assert incomplete(tmp_path, [0], [".a", ".a"]) == set()
    out = tmp_path / "out"
    assert main(heatmap_argv(data, out, tiny_checkpoint, "--methods", "pathology,pathology")) == 0
    assert main(heatmap_argv(data, out, tiny_checkpoint, "--methods", "pathology,pathology", "--resume")) == 0
    assert "0 photo(s) in" in capsys.readouterr().err.splitlines()[-1]  # all three skipped, none redone
