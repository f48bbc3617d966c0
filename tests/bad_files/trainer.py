"""Manifests and resumable states (``last.pt``) that ``fundus-train`` must refuse before it trains:
each message names the file (and the manifest's line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bad_files import BadFile

TINY = ("--width", "0.125", "--epochs", "1", "--batch-size", "4", "--crop", "none", "--workers", "0")
CLASSIFIER = ("fundus-train", "classifier", *TINY, "--device", "cpu", "--patience", "0")


def toy_photos(folder: Path, per_class: int = 4) -> list[str]:
    """Tiny photos (64 px, a pale cup on orange), the rows of a manifest that trains for real."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    rows = []
    for label in ("glaucoma", "normal"):
        for i in range(per_class):
            rgb = np.zeros((64, 64, 3), np.float32) + [170, 90, 50] + rng.normal(0, 6, (64, 64, 3))
            rgb[(xx - 32) ** 2 + (yy - 32) ** 2 < (64 * (0.3 if label == "glaucoma" else 0.1)) ** 2] = 240
            name = f"{label}_{i}.png"
            Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / name)
            rows.append(f"{name},{label},toy")
    return rows


def _manifest(name: str, header: str, extra: list[str], encoding: str = "utf-8"):
    def make(folder: Path) -> Path:
        rows = toy_photos(folder)
        path = folder / name
        path.write_text("\n".join([header, *rows[:3], *extra, *rows[3:]]) + "\n", encoding=encoding)
        return path

    return make


def _state(name: str, state: dict, seal: bool = True, flip: bool = False, drop: str = "", says: str = "") -> BadFile:
    """``OUT/last.pt`` beside a good manifest: ``state`` as written (``seal``: with its checksum, as
    the trainer writes one; ``flip``: then one bit flipped inside its tensor data)."""

    def make(folder: Path) -> Path:
        import torch

        from trainer.state import save_state

        rows = toy_photos(folder)
        (folder / "manifest.csv").write_text("path,label,dataset\n" + "\n".join(rows) + "\n")
        path = folder / "out" / "last.pt"
        path.parent.mkdir()
        tensors = {"model": {"weight": torch.arange(4096, dtype=torch.float32)}}
        full = {"optimizer": {}, "scheduler": {}, "epoch": 0, "best_auc": 0.5, "stale": 0, **tensors, **state}
        full.pop(drop, None)
        if name.endswith("not-a-dict"):
            torch.save([full], path)
        elif seal:
            save_state(path, full)
        else:
            torch.save(full, path)
        if flip:
            data = bytearray(path.read_bytes())
            at = bytes(data).index(torch.arange(4096, dtype=torch.float32).numpy().tobytes()[4000:4016])
            data[at] ^= 0x10  # one bit of one weight
            path.write_bytes(bytes(data))
        return path

    resume = (*CLASSIFIER, "--data", "{tmp}/manifest.csv", "--out", "{tmp}/out", "--resume")
    return BadFile(name, make, (resume,), says)


def _classify(*more: str) -> tuple[tuple[str, ...], ...]:
    return ((*CLASSIFIER, "--data", "{file}", "--out", "{tmp}/out", *more),)


CASES: list[BadFile] = [
    BadFile(
        "manifest-label-missing",
        _manifest("short-row.csv", "path,label,dataset", ["glaucoma_0.png"]),
        _classify(),
        "line 5",
    ),
    BadFile(
        "manifest-label-typo",
        _manifest("typo.csv", "path,label,dataset", ["normal_0.png,nromal,toy"]),
        _classify(),
        "'nromal' is not normal or glaucoma",
    ),
    BadFile(
        "manifest-no-label-column",
        _manifest("no-label.csv", "path,diagnosis,dataset", []),
        _classify(),
        "missing label",
    ),
    BadFile(
        "manifest-bom-typo",  # read past its byte-order mark: the error is the typo, not the columns
        _manifest("excel.csv", "path,label,dataset", ["normal_0.png,Nromal,toy"], encoding="utf-8-sig"),
        _classify(),
        "line 5",
    ),
    BadFile(
        "disc-evidence-no-pair-id",
        _manifest("no-pairs.csv", "path,label,dataset", []),
        (("fundus-train", "disc-evidence", "--data", "{file}", "--device", "cpu"),),
        "pair_id",
    ),
    BadFile(
        "vessels-no-pair-id",
        _manifest("vessels.csv", "path,label,role", []),
        (("fundus-train", "vessels", "--data", "{file}", "--out", "{tmp}/out", "--epochs", "1", "--device", "cpu"),),
        "pair_id",
    ),
    _state("state-flipped-bit", {}, flip=True, says="checksum"),
    _state("state-no-optimizer", {}, seal=False, drop="optimizer", says="no optimizer"),
    _state("state-epoch-text", {"epoch": "three"}, says="epoch is not a number"),
    # its model is one "weight" tensor, not this run's AlexNet (as after another --arch)
    _state("state-other-network", {}, says="its model does not fit this run"),
    _state("state-not-a-dict", {}, says="not a training state"),
]
