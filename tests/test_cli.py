"""The headless tools, run in-process on weights made in a fixture."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fundus_viewer.cli.main import main
from fundus_viewer.core.boxes import ImageBoxes, save_coco


@pytest.fixture
def photos(tmp_path, make_fundus):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(make_fundus(height=300, width=400, centre=(200, 150), radius=140)).save(folder / "eye1.png")
    Image.fromarray(make_fundus(height=260, width=350, centre=(170, 130), radius=120, seed=2)).save(folder / "eye2.jpg")
    return folder


def test_classify_json(photos, tiny_checkpoint, capsys):
    code = main(
        [
            "classify",
            str(photos / "eye1.png"),
            str(photos / "eye2.jpg"),
            "--model",
            str(tiny_checkpoint),
            "--json",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [0 <= r["probability_glaucoma"] <= 1 for r in rows] == [True, True]


def test_classify_adds_the_cup_to_disc_ratio(photos, tiny_checkpoint, tmp_path, capsys):
    import torch

    from fundus_viewer.core.cup_disc import CupDiscSegmenter, CupDiscSpec, save_cup_disc_segmenter

    segmenter = CupDiscSegmenter(CupDiscSpec(base=4, depth=2, input_size=64, resize=64))
    with torch.no_grad():  # disc and cup everywhere in its square: every vCDR is exactly 1
        segmenter.network.head.weight.zero_()
        segmenter.network.head.bias.fill_(50.0)
    path = save_cup_disc_segmenter(segmenter, tmp_path / "cd.safetensors")
    # a disc crop, segmented whole (around a located disc a square marked whole is no disc: test_cup_disc)
    crop = tmp_path / "crop.png"
    Image.fromarray(np.clip(np.random.default_rng(0).normal(150, 15, (100, 100, 3)), 0, 255).astype(np.uint8)).save(
        crop
    )
    common = [str(crop), "--model", str(tiny_checkpoint), "--cup-disc-model", str(path)]
    assert main(["classify", *common, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["vertical_cdr"] == 1.0
    assert main(["classify", *common]) == 0
    assert "vCDR 1.00" in capsys.readouterr().out
    assert main(["classify", *common, "--no-cup-disc", "--json"]) == 0
    assert "vertical_cdr" not in json.loads(capsys.readouterr().out)[0]
    with torch.no_grad():  # a segmenter that finds no disc anywhere: no ratio, said so (not a healthy 0.00)
        segmenter.network.head.bias.fill_(-50.0)
    save_cup_disc_segmenter(segmenter, path)
    assert main(["classify", *common, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["vertical_cdr"] is None and row["disc_found"] is False
    assert main(["classify", *common]) == 0
    assert "vCDR --  (no disc found)" in capsys.readouterr().out
    assert (
        main(
            [
                "classify",
                str(photos / "eye1.png"),
                "--model",
                str(tiny_checkpoint),
                "--cup-disc-model",
                str(tiny_checkpoint),
            ]
        )
        == 2
    )
    assert "not a cup/disc segmenter" in capsys.readouterr().err


def test_classify_bad_photo_is_reported_and_others_go_on(photos, tiny_checkpoint, capsys, tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"")
    code = main(["classify", str(tmp_path / "bad.jpg"), str(photos / "eye1.png"), "--model", str(tiny_checkpoint)])
    captured = capture = capsys.readouterr()
    assert code == 1
    assert "bad.jpg: the file is empty" in captured.err and "eye1.png" in capture.out


def test_heatmap_writes_maps_on_the_original_grid(photos, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "maps"
    code = main(
        [
            "heatmap",
            str(photos / "eye1.png"),
            "--out",
            str(out),
            "--model",
            str(tiny_checkpoint),
            "--methods",
            "pathology,cam,gbp",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "device: CPU" in err and "active" in err
    for name in ("pathology-rl", "pathology-rnfld", "cam", "gbp"):
        heat = np.load(out / f"eye1.{name}.npy")
        assert heat.shape == (300, 400) and heat.dtype == np.float32 and heat.min() >= 0
        assert (out / f"eye1.{name}.png").exists()


def test_heatmap_refuses_bad_thresholds_and_missing_model(photos, tmp_path, capsys):
    # a usage error (exit status 2, as argparse's), not SystemExit("error: ...") with its status 1
    code = main(["heatmap", str(photos / "eye1.png"), "--out", str(tmp_path), "--cmi-low", "0.9", "--cmi-high", "0.1"])
    assert code == 2 and "heatmap: error: need 0 <= cmi_low <= cmi_high <= 1" in capsys.readouterr().err
    assert main(["heatmap", str(photos / "eye1.png"), "--out", str(tmp_path), "--methods", "cam,grad"]) == 2
    assert "unknown method(s) grad" in capsys.readouterr().err
    code = main(
        ["heatmap", str(photos / "eye1.png"), "--out", str(tmp_path), "--model", str(tmp_path / "none.safetensors")]
    )
    assert code == 2 and "no such model file" in capsys.readouterr().err


def test_evaluate_prints_and_writes_table_one(photos, tiny_checkpoint, tmp_path, capsys):
    entry = ImageBoxes("eye1.png", 400, 300)
    entry.boxes["RL"].append((150, 100, 60, 60))
    entry.boxes["RNFLD"].append((100, 150, 40, 80))
    save_coco({"eye1.png": entry}, tmp_path / "gt.json")
    table = tmp_path / "table.csv"
    code = main(
        [
            "evaluate",
            "--images",
            str(photos),
            "--boxes",
            str(tmp_path / "gt.json"),
            "--model",
            str(tiny_checkpoint),
            "--methods",
            "pathology,cam,occlusion",
            "--metrics",
            "accuracy,pointing-game,deletion",
            "--out",
            str(table),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "RL" in out and "RNFLD" in out and "pathology" in out and "Pointing game" in out and "Deletion" in out
    lines = table.read_text().splitlines()
    assert lines[0] == "metric,pathology,method,mean,std,n,ours_minus_mean,paired_t_p,wilcoxon_p"
    assert len(lines) == 1 + 3 * 2 * 5  # 3 metrics x RL and RNFLD x (3 methods + the two flat maps)
    assert len((tmp_path / "table.per-image.csv").read_text().splitlines()) == 1 + 3 * 2 * 5  # one photo
    assert (
        main(
            ["evaluate", "--images", str(photos), "--boxes", str(tmp_path / "gt.json"), "--metrics", "accuracy,banana"]
        )
        == 2
    )
    assert "unknown metric(s) banana" in capsys.readouterr().err


def test_help_runs_without_torch_or_qt():
    code = (
        "import sys; from fundus_viewer.cli.main import main; main(['--help']); "
        "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "classify" in result.stdout and result.stdout.strip().endswith("[]")
