"""Per-photo outputs of the photo-list commands: one set of files per input, however the inputs are
named (issue #19 item 9), and no captum warning per photo (item 13)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from fundus_viewer.cli.main import main


@pytest.fixture
def same_stems(tmp_path, make_fundus):
    """``a/x.jpg``, ``b/x.jpg`` and ``a/x.png``: three photos, one stem."""
    for folder, suffix, seed in (("a", "jpg", 0), ("b", "jpg", 1), ("a", "png", 2)):
        (tmp_path / folder).mkdir(exist_ok=True)
        rgb = make_fundus(height=200, width=260, centre=(130, 100), radius=90, seed=seed)
        Image.fromarray(rgb).save(tmp_path / folder / f"x.{suffix}")
    return [tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg", tmp_path / "a" / "x.png"]


def test_unique_stems_keep_plain_names_and_tell_apart_the_rest(tmp_path):
    from fundus_viewer.cli.common import unique_stems

    assert unique_stems(["p/eye1.png", "p/eye2.jpg"]) == ["eye1", "eye2"]
    assert unique_stems(["r/a/x.jpg", "r/b/x.jpg", "r/a/x.png", "r/y.png"]) == ["a__x.jpg", "b__x.jpg", "a__x.png", "y"]
    assert unique_stems(["a/x.jpg", "a/X.png"]) == ["x.jpg", "X.png"]  # one file on Windows and macOS
    long = "d" * 200
    stems = unique_stems([f"{long}1/{long}/x.jpg", f"{long}2/{long}/x.jpg"])
    assert all(len(f"{s}.pathology-rnfld.png".encode()) <= 255 for s in stems), stems
    assert len(set(stems)) == 2 and stems[1].endswith("-2")  # shortened alike: told apart still
    assert unique_stems(["a/x y:1.jpg", "b/x y:1.jpg"]) == ["a__x_y_1.jpg", "b__x_y_1.jpg"]


def test_heatmap_writes_one_set_per_photo_when_stems_collide(same_stems, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["heatmap", *map(str, same_stems), "--out", str(out), "--model", str(tiny_checkpoint)])
    err = capsys.readouterr().err
    assert code == 0
    sidecars = sorted(out.glob("*.maps.json"))
    assert [p.name for p in sidecars] == ["a__x.jpg.maps.json", "a__x.png.maps.json", "b__x.jpg.maps.json"]
    # each set says which photo it is, and each set is whole
    photos = {json.loads(p.read_text())["photo"]["path"] for p in sidecars}
    assert photos == {str(p) for p in same_stems}
    for sidecar in sidecars:
        for entry in json.loads(sidecar.read_text())["maps"].values():
            assert (out / entry["file"]).is_file() and (out / entry["file"]).with_suffix(".png").is_file()
    # the progress lines map each input to its files
    for photo, stem in zip(same_stems, ("a__x.jpg", "b__x.jpg", "a__x.png"), strict=True):
        assert f"{photo} -> {out / stem}.*" in err
    assert "3 photo(s)" in err


def test_segment_vessels_writes_one_pair_per_photo_when_stems_collide(same_stems, tmp_path, tiny_vessels, capsys):
    out = tmp_path / "v"
    assert main(["segment-vessels", *map(str, same_stems), "--out", str(out), "--model", str(tiny_vessels)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}.vessels-{kind}.png" for stem in ("a__x.jpg", "b__x.jpg", "a__x.png") for kind in ("prob", "mask")
    )
    err = capsys.readouterr().err
    assert f"{same_stems[1]} -> {out / 'b__x.jpg'}.vessels-*.png" in err


def test_guided_backprop_says_nothing_per_photo(same_stems, tiny_checkpoint, tmp_path):
    """captum warns "Setting backward hooks on ReLU activations" on every call: once per photo in the
    CLI's output and the app's log, about hooks it removes itself. In a process of its own, every
    warning shown each time (pytest puts back the filters after each test, so not in-process)."""
    run = "import sys; from fundus_viewer.cli.main import main; sys.exit(main(sys.argv[1:]))"
    photos = [str(p) for p in same_stems[:2]]
    argv = ["heatmap", *photos, "--out", str(tmp_path / "o"), "--model", str(tiny_checkpoint), "--methods", "gbp"]
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", run, *argv], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "o" / "a__x.jpg.gbp.npy").is_file()
    assert "backward hooks" not in done.stderr


def test_a_photo_given_twice_is_processed_once(same_stems, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    again = same_stems[0].parent / ".." / "a" / "x.jpg"  # the same file by another path
    argv = ["heatmap", str(same_stems[0]), str(again), "--out", str(out), "--model", str(tiny_checkpoint)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in out.glob("*.maps.json")) == ["x.maps.json"]
    assert f"{again}: given more than once, processed once" in err
    assert "[1/1]" in err and "[1/2]" not in err


def test_help_says_when_a_photos_name_depends_on_the_others(capsys):
    with pytest.raises(SystemExit):
        main(["heatmap", "--help"])
    assert "only where" in " ".join(capsys.readouterr().out.split())
