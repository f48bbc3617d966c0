"""Every fundus-train sub-command under torchrun --nproc_per_node 2 on the CPU (gloo): one log and one
checkpoint, in the single-process format, that a single process loads and resumes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.test_trainer_classifier import common_args, make_set
from tests.test_trainer_vessels import args as vessel_args
from tests.test_trainer_vessels import make_pairs

ROOT = Path(__file__).parents[1]


def torchrun(command: str, argv: list[str], port: int):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(port),
        "-m",
        "trainer",
        command,
        *argv,
    ]
    result = subprocess.run(full, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def epochs_logged(out: Path) -> list[int]:
    with (out / "log.csv").open() as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


def test_classifier_under_torchrun(tmp_path):
    from fundus_viewer.core.models.checkpoint import load_classifier
    from trainer.classifier import main as train_main

    (tmp_path / "toy").mkdir()
    data = make_set(tmp_path / "toy", per_class=8)
    out = tmp_path / "run"
    torchrun("classifier", common_args(data, out, 2), 29531)
    assert epochs_logged(out) == [1, 2]
    model = load_classifier(out / "classifier.safetensors")
    assert "2 processes" in model.spec.training["machine"] and "test" in model.spec.metrics
    assert train_main(common_args(data, out, 3) + ["--resume"]) == 0  # one process takes over
    assert epochs_logged(out) == [1, 2, 3]


def test_vessels_under_torchrun(tmp_path):
    from fundus_viewer.core.vessels import load_vessel_segmenter

    data = make_pairs(tmp_path / "pairs", count=6, size=96)
    out = tmp_path / "run"
    torchrun("vessels", vessel_args(data, out, 2), 29532)
    assert epochs_logged(out) == [1, 2]
    model = load_vessel_segmenter(out / "vessels.safetensors")
    assert "2 processes" in model.spec.training["machine"] and "test" in model.spec.metrics
