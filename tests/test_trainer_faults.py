"""The trainer's manifests and resume files under attack (issue #19, item 12): each refusal names the
file (and the manifest's line); nothing trains on a misread file. The crafted files of
tests/bad_files/trainer.py run against the commands in test_bad_file_corpus.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from bad_files.trainer import CLASSIFIER, toy_photos

from fundus_viewer.core.errors import CheckpointError
from trainer.sources import DataError, read_labelled_photos


def _manifest(folder: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    rows = toy_photos(folder)
    path = folder / "m.csv"
    path.write_text("\n".join(["path,label,dataset", *rows, *lines]) + "\n", encoding=encoding)
    return path


def test_an_excel_manifest_with_a_byte_order_mark_reads_as_without(tmp_path):
    """It said "a manifest needs the columns path and label": the first column was '\\ufeffpath'."""
    plain = read_labelled_photos(_manifest(tmp_path, []))
    excel = read_labelled_photos(_manifest(tmp_path, [], encoding="utf-8-sig"))
    assert [(s.path.name, s.label) for s in excel] == [(s.path.name, s.label) for s in plain]
    assert len(plain) == 8


def test_a_misspelled_label_is_refused_with_its_line(tmp_path):
    """ "nromal" rows were dropped without a word (5 normals trained instead of 15)."""
    with pytest.raises(DataError, match=r"m.csv: line 10: label 'nromal' is not normal or glaucoma"):
        read_labelled_photos(_manifest(tmp_path, ["normal_0.png,nromal,toy"]))
    kept = read_labelled_photos(_manifest(tmp_path, ["normal_0.png,unknown,toy", "normal_1.png,,toy"]))
    assert len(kept) == 8  # unknown and empty labels are photos without a label, as before


def test_a_row_missing_its_label_is_refused_with_its_line(tmp_path):
    """It was AttributeError: 'NoneType' object has no attribute 'strip'."""
    with pytest.raises(DataError, match=r"m.csv: line 10 has no value for label$"):
        read_labelled_photos(_manifest(tmp_path, ["normal_0.png"]))


def test_disc_evidence_without_pair_ids_says_so(tmp_path):
    """pair_id is documented as optional; it was KeyError: 'pair_id'."""
    from trainer.disc_evidence import disc_pairs

    with pytest.raises(DataError, match="m.csv: no row has a pair_id"):
        disc_pairs(_manifest(tmp_path, []), None, "")


def test_the_state_checksum_finds_a_flipped_bit(tmp_path):
    from trainer.state import load_state, save_state, state_digest

    state = {"model": {"w": torch.arange(1000, dtype=torch.float32)}, "epoch": 3, "best": 0.5}
    assert state_digest(state) == state_digest({"best": 0.5, "epoch": 3, "model": {"w": torch.arange(1000.0)}})
    assert state_digest(state) != state_digest({**state, "epoch": 4})
    path = tmp_path / "last.pt"
    save_state(path, state)
    loaded = load_state(path)
    assert loaded["epoch"] == 3 and torch.equal(loaded["model"]["w"], state["model"]["w"])
    data = bytearray(path.read_bytes())
    data[bytes(data).index(torch.tensor([500.0]).numpy().tobytes())] ^= 0x01  # 500.0 -> another float
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="last.pt: damaged: its contents do not match the checksum"):
        load_state(path)


def test_resume_with_another_arch_or_no_checkpoint(tmp_path, capsys):
    """Another --arch was a RuntimeError traceback; a missing last.pt (killed in the first write)
    started over without a word."""
    from trainer.cli import main

    _manifest(tmp_path, [])
    out = tmp_path / "out"
    args = [*CLASSIFIER[1:], "--data", str(tmp_path / "m.csv"), "--out", str(out)]
    assert main([*args, "--resume"]) == 0
    assert "--resume: no complete checkpoint in" in capsys.readouterr().err
    assert main([*args, "--resume", "--arch", "resnet18"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "last.pt: its model does not fit this run (another --arch" in last, last


def test_gan_resume_checks_it_is_a_gan_state_first(tmp_path):
    """A classifier's last.pt was reported as "started with --no-fov"; conditions of another type
    were a TypeError."""
    from trainer.gan import resumed_conditions

    path = tmp_path / "last.pt"
    classifier = {"model": {}, "optimizer": {}, "scheduler": {}, "epoch": 3}
    with pytest.raises(CheckpointError, match="last.pt: not a training state of this command .no G, D,"):
        resumed_conditions(classifier, path)
    gan = {"G": {}, "D": {}, "opt_g": {}, "opt_d": {}, "step": 5, "g_steps": 5, "d_steps": 5}
    assert resumed_conditions(gan, path) == {"fov_channel": False, "disc_cup": False}
    with pytest.raises(CheckpointError, match=r"last.pt: damaged training state \(d_steps, conditions of"):
        resumed_conditions({**gan, "d_steps": "5", "conditions": [1]}, path)
