"""``--data`` runs over whole data sets: one row per photo, maps in the zarr store equal to the
in-process maps, bad files as rows, SIGKILL then --resume, two torchrun ranks equal to one process."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from dicom_files import PATIENT_ID, PATIENT_NAME, write_dicom

from fundus_viewer.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def photo_folder(folder: Path, make_fundus, count: int, size=(420, 600), extras: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    for i in range(count):
        rgb = make_fundus(
            height=size[0],
            width=size[1],
            centre=(size[1] // 2, size[0] // 2),
            radius=min(size) // 2 - 10,
            spot=(size[1] // 2 + 40 * (i % 3 - 1), size[0] // 2 + 30 * (i % 2)),
            seed=i,
        )
        cv2.imwrite(str(folder / ("sub" if i % 4 == 0 else "") / f"p{i:03d}.png"), rgb[..., ::-1])
    if extras:
        (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
        rgb = make_fundus(seed=99)
        write_dicom(folder / "jpeg.dcm", rgb, compression="jpeg")
        write_dicom(folder / "DOE_JANE", rgb, compression="rle")  # no suffix, a patient's name as file name
        write_dicom(folder / "report.dcm", rgb, pixel_data=False)
    return folder


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_summary(out: Path) -> list[dict]:
    with (out / "summary.csv").open(newline="") as stream:
        return list(csv.DictReader(stream))


def heatmap(argv) -> int:
    return main(["heatmap", *map(str, argv), "--workers", "0", "--no-progress"])


def without_seconds(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_rows_for_every_photo_and_error_and_no_identity(tmp_path, make_fundus, tiny_checkpoint):
    data = photo_folder(tmp_path / "data", make_fundus, 5)
    out = tmp_path / "out"
    assert (
        heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--batch-size", "3"]) == 1
    )  # 1: some photos failed
    summary = read_summary(out)
    rows = {Path(row["path"]).name: row for row in summary}
    dicom_files = ("jpeg.dcm", "report.dcm", "DOE_JANE")
    assert sorted(row["key"] for row in summary if Path(row["path"]).name not in dicom_files) == [
        "broken.jpg",
        "p001.png",
        "p002.png",
        "p003.png",
        "sub/p000.png",
        "sub/p004.png",
    ]
    for name in dicom_files:  # a DICOM row is named by its UID, not by its file
        assert rows[name]["key"].startswith("1.2.") and rows[name]["key"] == (
            rows[name]["sop_instance_uid"] or rows[name]["key"]
        )
    assert "not a readable image" in rows["broken.jpg"]["error"] and rows["broken.jpg"]["probability_glaucoma"] == ""
    assert "without pixel data" in rows["report.dcm"]["error"]
    dicom = rows["jpeg.dcm"]
    assert dicom["error"] == "" and 0 <= float(dicom["probability_glaucoma"]) <= 1
    assert dicom["laterality"] == "R" and dicom["sop_instance_uid"].startswith("1.2.") and dicom["width"] == "600"
    assert all(row["maps_kept"] for key, row in rows.items() if not row["error"])
    for path in out.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert PATIENT_NAME.encode() not in content and PATIENT_ID.encode() not in content, path
            assert b"DOE_JANE" not in content or path.name == "summary.csv" or path.suffix == ".jsonl", (
                path
            )  # the file name: only as its path


def test_maps_read_back_equal_the_in_process_maps(tmp_path, make_fundus, tiny_alexnet, tiny_checkpoint):
    from fundus_viewer.core.batch.store import MapStore
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    data = photo_folder(tmp_path / "data", make_fundus, 4, extras=False)
    out = tmp_path / "out"
    assert (
        heatmap(
            [
                "--data",
                data,
                "--out",
                out,
                "--model",
                tiny_checkpoint,
                "--methods",
                "pathology,cam",
                "--batch-size",
                "3",
            ]
        )
        == 0
    )
    store = MapStore.open(out)
    visualizer = PathologyVisualizer(load_classifier(tiny_checkpoint))
    for row in read_summary(out):
        analysis = visualizer.analyze(row["path"])
        expected = analysis.heatmaps()
        for name, pathology in (("pathology-rl", "rl"), ("pathology-rnfld", "rnfld")):
            stored = store.grid_map(row["key"], name)
            assert stored.transform == analysis.transform
            np.testing.assert_allclose(stored.grid, expected.maps[pathology].grid, atol=1e-6)
            np.testing.assert_allclose(stored.full(), expected[pathology], atol=1e-5)
        assert float(row["probability_glaucoma"]) == pytest.approx(analysis.probability, abs=1e-5)
    import zarr

    group = zarr.open_group(str(out / "maps.zarr"), mode="r")  # a scientist's view: zarr alone
    assert group["pathology-rl"].shape[0] == 4 and group["cam"].shape[0] == 4 and group.attrs["keys"][0] == "p001.png"


def test_sigkill_mid_run_then_resume_records_every_photo_once(tmp_path, make_fundus, tiny_checkpoint):
    from fundus_viewer.core.batch.store import MapStore

    count = 48
    data = photo_folder(tmp_path / "data", make_fundus, count, size=(1200, 1600), extras=False)
    out, clean = tmp_path / "out", tmp_path / "clean"
    command = [
        sys.executable,
        "-m",
        "fundus_viewer",
        "heatmap",
        "--data",
        str(data),
        "--out",
        str(out),
        "--model",
        str(tiny_checkpoint),
        "--batch-size",
        "1",
        "--workers",
        "0",
        "--no-progress",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = out / "rows.0.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 3:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    recorded = journal.read_bytes().count(b"\n")
    assert 3 <= recorded < count and not (out / "summary.csv").exists()
    with journal.open("ab") as stream:  # and a row torn by a kill in the middle of writing it
        stream.write(b'{"index":47,"key":"p047.png","probability_glaucoma":0.5')
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint]) == 2  # without --resume: refused
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--resume"]) == 0
    rows = read_summary(out)
    assert [int(r["index"]) for r in rows] == list(range(count)) and all(
        r["probability_glaucoma"] and not r["error"] for r in rows
    )
    assert heatmap(["--data", data, "--out", clean, "--model", tiny_checkpoint]) == 0
    assert without_seconds(rows) == without_seconds(read_summary(clean))
    resumed, uninterrupted = MapStore.open(out), MapStore.open(clean)
    np.testing.assert_array_equal(resumed.group["transform"][:], uninterrupted.group["transform"][:])
    for name in ("pathology-rl", "pathology-rnfld"):  # batches of 1 then 16 against 16: float round-off only
        np.testing.assert_allclose(resumed.group[name][:], uninterrupted.group[name][:], rtol=1e-5, atol=1e-9)
    assert not np.isnan(resumed.group["pathology-rl"][:]).any()


def test_resume_refuses_other_settings(tmp_path, make_fundus, tiny_checkpoint, capsys):
    data = photo_folder(tmp_path / "data", make_fundus, 2, extras=False)
    out = tmp_path / "out"
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint]) == 0
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--resume", "--theta-act", "0.3"]) == 2
    assert "different settings" in capsys.readouterr().err
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--resume"]) == 0  # nothing left: a no-op


def test_two_torchrun_ranks_give_the_one_process_summary(tmp_path, make_fundus, tiny_checkpoint):
    from fundus_viewer.core.batch.store import MapStore

    data = photo_folder(tmp_path / "data", make_fundus, 7)
    one, two = tmp_path / "one", tmp_path / "two"
    args = [
        "heatmap",
        "--data",
        str(data),
        "--model",
        str(tiny_checkpoint),
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--no-progress",
        "--device",
        "cpu",
    ]
    subprocess.run(
        [sys.executable, "-m", "fundus_viewer", *args, "--out", str(one)], cwd=ROOT, capture_output=True, timeout=300
    )
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(free_port()),
            "-m",
            "fundus_viewer",
            *args,
            "--out",
            str(two),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 1, ran.stderr[-2000:]  # 1: the broken photos' rows
    assert sorted(p.name for p in two.glob("rows.*.jsonl")) == ["rows.0.jsonl", "rows.1.jsonl"]
    assert all(
        (two / name).read_text().count("\n") > 0 for name in ("rows.0.jsonl", "rows.1.jsonl")
    )  # both ranks worked
    assert without_seconds(read_summary(two)) == without_seconds(read_summary(one))
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(free_port()),
            "-m",
            "fundus_viewer",
            *args,
            "--out",
            str(two),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode != 0 and "holds a run already" in again.stderr  # rank 0's refusal reaches rank 1: no hang
    a, b = MapStore.open(one), MapStore.open(two)
    np.testing.assert_allclose(a.group["pathology-rl"][:], b.group["pathology-rl"][:], rtol=1e-5, atol=1e-9)


def test_classify_and_vessels_take_data(tmp_path, make_fundus, tiny_checkpoint):
    data = photo_folder(tmp_path / "data", make_fundus, 2)
    assert (
        main(
            [
                "classify",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "c"),
                "--model",
                str(tiny_checkpoint),
                "--no-cup-disc",
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 1
    )
    rows = {Path(r["path"]).name: r for r in read_summary(tmp_path / "c")}
    assert (
        rows["p001.png"]["prediction"] in ("glaucoma", "normal") and "without pixel data" in rows["report.dcm"]["error"]
    )
    assert (
        main(["segment-vessels", "--data", str(data), "--out", str(tmp_path / "v"), "--workers", "0", "--no-progress"])
        == 1
    )
    rows = {r["key"]: r for r in read_summary(tmp_path / "v")}
    row = rows["sub/p000.png"]  # the index first: no two photos share a file
    assert row["mask_png"] == f"vessels/{int(row['index']):06d}-sub__p000.vessels-mask.png"
    mask = cv2.imread(str(tmp_path / "v" / row["mask_png"]), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (420, 600) and 0 <= float(row["vessel_fraction"]) < 0.5


def test_a_torn_journal_line_is_ignored_and_cut(tmp_path):
    from fundus_viewer.core.batch.journal import Journal, read_rows

    journal = Journal(tmp_path)
    journal.append({"index": 0, "key": "a"})
    journal.close()
    with (tmp_path / "rows.0.jsonl").open("ab") as stream:
        stream.write(b'{"index": 1, "key": "b"')
    assert sorted(read_rows(tmp_path)) == [0]
    journal = Journal(tmp_path)  # reopened after the kill: the torn line goes, the next row is whole
    journal.append({"index": 1, "key": "b"})
    journal.close()
    assert [json.loads(line)["index"] for line in (tmp_path / "rows.0.jsonl").read_text().splitlines()] == [0, 1]


def test_decoding_workers_after_opencv_ran_in_this_process(tmp_path, make_fundus, tiny_checkpoint):
    """Forked workers hung (in cv2.setNumThreads) once the parent had used OpenCV's thread pool, as the
    benchmark's GradCAM loop did; the pool is now set to one thread in the parent around the fork."""
    big = np.zeros((3000, 4000, 3), np.uint8)
    cv2.resize(big, (2000, 1500))  # OpenCV's thread pool now running in this process
    data = photo_folder(tmp_path / "data", make_fundus, 3, extras=False)
    assert (
        main(
            [
                "heatmap",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "out"),
                "--model",
                str(tiny_checkpoint),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert len(read_summary(tmp_path / "out")) == 3


def test_resume_redoes_a_photo_whose_maps_were_lost_and_refuses_a_lost_store(tmp_path, make_fundus, tiny_checkpoint):
    import shutil

    import zarr

    data = photo_folder(tmp_path / "data", make_fundus, 3, extras=False)
    out = tmp_path / "out"
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint]) == 0
    group = zarr.open_group(str(out / "maps.zarr"), mode="r+")
    kept = group["pathology-rl"][1].copy()
    group["transform"][1] = -1  # its chunks never reached the disk (a power cut after the row was written)
    group["pathology-rl"][1] = np.nan
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--resume"]) == 0
    np.testing.assert_allclose(
        zarr.open_group(str(out / "maps.zarr"), mode="r")["pathology-rl"][1], kept, rtol=1e-5, atol=1e-9
    )
    assert len((out / "rows.0.jsonl").read_text().splitlines()) == 4  # photo 1 recorded again
    shutil.rmtree(out / "maps.zarr")
    assert (
        heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--resume"]) == 2
    )  # rows without their store: refused


def test_retry_errors_redoes_a_photo_fixed_since(tmp_path, make_fundus, tiny_checkpoint):
    data = photo_folder(tmp_path / "data", make_fundus, 2)
    out = tmp_path / "out"
    assert heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint]) == 1
    cv2.imwrite(str(data / "broken.jpg"), make_fundus(seed=5)[..., ::-1])
    assert (
        heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--resume"]) == 1
    )  # errors stay errors ...
    assert (
        heatmap(["--data", data, "--out", out, "--model", tiny_checkpoint, "--resume", "--retry-errors"]) == 1
    )  # ... until retried (report.dcm still fails)
    rows = {Path(r["path"]).name: r for r in read_summary(out)}
    assert rows["broken.jpg"]["error"] == "" and rows["broken.jpg"]["probability_glaucoma"] != ""


def test_a_photo_the_task_fails_on_is_its_own_row():
    from fundus_viewer.core.batch.inputs import DataItem
    from fundus_viewer.core.batch.loader import Prepared
    from fundus_viewer.core.batch.runner import process_batch

    class Task:
        name = "probe"

        def process(self, batch):
            if any(p.item.key == "bad" for p in batch):
                raise ValueError("cannot")
            return [{"value": float("nan") if p.item.key == "nan" else 1.0} for p in batch]

    batch = [Prepared(i, DataItem(key, key)) for i, key in enumerate(("a", "bad", "nan"))]
    rows = process_batch(Task(), batch)
    assert [r.get("value") for r in rows] == [1.0, None, None]  # NaN: an empty cell, not invalid JSON
    assert "probe failed: ValueError: cannot" in rows[1]["error"] and "error" not in rows[0] and "error" not in rows[2]


def test_mixed_precision_keeps_the_analysed_layers_in_float32(tiny_alexnet):
    import torch

    from fundus_viewer.core.visualization.capture import capture
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    x = torch.rand(2, 3, 227, 227, generator=torch.Generator().manual_seed(0))
    layers = tiny_alexnet.default_layers
    result = capture(tiny_alexnet, x, layers, tiny_alexnet.glaucoma_index, autocast_dtype=torch.bfloat16)
    assert all(a.dtype == torch.float32 for a in result.activations) and all(
        g.dtype == torch.float32 for g in result.gradients
    )
    visualizer = PathologyVisualizer(tiny_alexnet)
    full, mixed = visualizer.analyze_batch(x), visualizer.analyze_batch(x, amp=True)
    for i in range(2):
        assert np.corrcoef(full.signed["rl"][i].ravel(), mixed.signed["rl"][i].ravel())[0, 1] > 0.95
