"""Model files with crafted metadata or weights, for every kind of checkpoint and every command that
loads one. Tensors are tiny (or wrong on purpose): a bad spec must be refused before any network is
built, and weights that do not fit it before any photo is read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bad_files import BadFile

CLASSIFIER = "fundus-viewer/classifier"
VESSELS = "fundus-viewer/vessel-segmenter"
CUP_DISC = "fundus-viewer/cup-disc-segmenter"
GAN = "fundus-viewer/patho-gan"

TINY_ALEXNET = {"arch": "alexnet", "input_size": 64, "arch_options": {"width": 0.125, "hidden": 8}}


def write_photo(folder: Path) -> Path:
    """A small valid fundus-like photo (a bright disc on black), for the commands that need one."""
    import cv2

    yy, xx = np.mgrid[0:96, 0:96]
    rgb = np.zeros((96, 96, 3), np.uint8)
    rgb[(xx - 48) ** 2 + (yy - 48) ** 2 <= 40**2] = (150, 70, 30)
    rgb[(xx - 60) ** 2 + (yy - 44) ** 2 <= 8**2] = (250, 220, 160)
    path = folder / "photo.png"
    cv2.imwrite(str(path), rgb[..., ::-1])
    coco = {
        "images": [{"id": 1, "file_name": path.name, "width": 96, "height": 96}],
        "annotations": [],
        "categories": [{"id": 1, "name": "RL"}, {"id": 2, "name": "RNFLD"}],
    }
    (folder / "boxes.json").write_text(json.dumps(coco))
    disc = np.zeros((96, 96), np.uint8)
    disc[(xx - 60) ** 2 + (yy - 44) ** 2 <= 10**2] = 255
    cv2.imwrite(str(folder / "disc.png"), disc)  # disc-evidence needs a photo with a disc mask
    (folder / "manifest.csv").write_text(
        f"path,label,role,pair_id\n{path.name},glaucoma,photo,1\ndisc.png,glaucoma,disc_mask,1\n"
    )
    return path


def write_model(path: Path, kind: str, spec, tensors: dict | None = None, raw_spec: str | None = None) -> Path:
    """A safetensors file as Fundus Viewer writes one, with whatever metadata the case needs."""
    import torch
    from safetensors.torch import save_file

    tensors = tensors if tensors is not None else {"x": torch.zeros(1)}
    metadata = {"kind": kind, "format_version": "1", "spec": raw_spec if raw_spec is not None else json.dumps(spec)}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    return path


def _alexnet_tensors(**options) -> dict:
    from fundus_viewer.core.models.architectures import GlaucomaAlexNet

    return GlaucomaAlexNet(num_classes=2, **{"width": 0.125, "hidden": 8, **options}).state_dict()


def _unet_tensors(in_channels: int, out_channels: int, base: int, depth: int) -> dict:
    from fundus_viewer.core.models.unet import UNet

    return UNet(in_channels, out_channels, base, depth).state_dict()


def _classifier_commands() -> tuple[tuple[str, ...], ...]:
    photo = "{tmp}/photo.png"
    return (
        ("fundus-viewer", "classify", "--model", "{file}", "--no-cup-disc", "--device", "cpu", photo),
        ("fundus-viewer", "heatmap", "--model", "{file}", "--device", "cpu", "--out", "{tmp}/out", photo),
        ("fundus-viewer", "evaluate", "--model", "{file}", "--device", "cpu", "--images", "{tmp}")
        + ("--boxes", "{tmp}/boxes.json"),
        ("fundus-viewer", "sanity-check", "--model", "{file}", "--device", "cpu", "--out", "{tmp}/out", photo),
        ("fundus-viewer", "propose-boxes", "--model", "{file}", "--device", "cpu", "--out", "{tmp}/p.json", photo),
        ("fundus-viewer", "gan-report", "--classifier", "{file}", "--device", "cpu", "--data", "{tmp}/manifest.csv"),
        ("fundus-train", "calibrate", "--model", "{file}", "--device", "cpu", "--data", "{tmp}/manifest.csv"),
        ("fundus-train", "disc-evidence", "--model", "{file}", "--device", "cpu", "--data", "{tmp}/manifest.csv"),
        ("fundus-train", "model-card", "--model", "{file}", "--out", "{tmp}/card.md"),
    )


def _vessel_commands() -> tuple[tuple[str, ...], ...]:
    photo = "{tmp}/photo.png"
    return (
        ("fundus-viewer", "segment-vessels", "--model", "{file}", "--device", "cpu", "--out", "{tmp}/out", photo),
        ("fundus-viewer", "synthesize", "--segmenter", "{file}", "--device", "cpu", "--vessels", photo)
        + ("--out", "{tmp}/out"),
        ("fundus-train", "model-card", "--model", "{file}", "--out", "{tmp}/card.md"),
    )


def _cup_disc_commands() -> tuple[tuple[str, ...], ...]:
    photo = "{tmp}/photo.png"
    return (
        ("fundus-viewer", "classify", "--cup-disc-model", "{file}", "--device", "cpu", photo),
        ("fundus-viewer", "gan-report", "--cup-disc", "{file}", "--device", "cpu", "--data", "{tmp}/manifest.csv"),
        ("fundus-train", "cup-disc-report", "--model", "{file}", "--data", "{tmp}/manifest.csv"),
        ("fundus-train", "model-card", "--model", "{file}", "--out", "{tmp}/card.md"),
    )


def _gan_commands() -> tuple[tuple[str, ...], ...]:
    return (
        ("fundus-viewer", "synthesize", "--model", "{file}", "--device", "cpu", "--vessels", "{tmp}/photo.png")
        + ("--out", "{tmp}/out"),
        ("fundus-viewer", "gan-report", "--models", "{file}", "--device", "cpu", "--data", "{tmp}/manifest.csv"),
        ("fundus-train", "model-card", "--model", "{file}", "--out", "{tmp}/card.md"),
    )


COMMANDS = {
    CLASSIFIER: _classifier_commands(),
    VESSELS: _vessel_commands(),
    CUP_DISC: _cup_disc_commands(),
    GAN: _gan_commands(),
}


def _case(case_id: str, kind: str, spec=None, says: str = "", raw_spec: str | None = None, tensors=None) -> BadFile:
    def make(folder: Path) -> Path:
        write_photo(folder)
        made = tensors() if callable(tensors) else None
        return write_model(folder / f"{case_id}.safetensors", kind, spec, made, raw_spec)

    # a model card is written from the metadata alone: weights that do not fit are the loaders' to refuse
    commands = COMMANDS[kind][:-1] if says == "weights" else COMMANDS[kind]
    return BadFile(case_id, make, commands, says)


def _classifier(case_id: str, says: str, **fields) -> BadFile:
    return _case(case_id, CLASSIFIER, {**TINY_ALEXNET, **fields}, says)


CASES: list[BadFile] = [
    # the spec itself
    _case("classifier-spec-list", CLASSIFIER, [1, 2], "spec"),
    _case("classifier-spec-string", CLASSIFIER, "alexnet", "spec"),
    _case("classifier-spec-not-json", CLASSIFIER, raw_spec="{arch: alexnet", says="metadata"),
    # one field at a time
    _classifier("classifier-arch-unknown", "arch", arch="vgg99"),
    _classifier("classifier-arch-number", "arch", arch=5),
    _classifier("classifier-arch-options-list", "arch_options", arch_options=[1]),
    _classifier("classifier-arch-options-unknown", "arch_options", arch_options={"wings": 2}),
    _classifier("classifier-arch-options-type", "width", arch_options={"width": "wide"}),
    _classifier("classifier-arch-options-huge", "width", arch_options={"width": 1e6}),
    _classifier("classifier-crop-banana", "crop", crop="banana"),
    _classifier("classifier-input-size-zero", "input_size", input_size=0),
    _classifier("classifier-input-size-negative", "input_size", input_size=-5),
    _classifier("classifier-input-size-string", "input_size", input_size="227"),
    _classifier("classifier-input-size-huge", "input_size", input_size=12000),
    _classifier("classifier-mean-two", "mean", mean=[0.5, 0.5]),
    _classifier("classifier-std-zero", "std", std=[0, 0, 0]),
    _classifier("classifier-resize-negative", "resize", resize=-1),
    _classifier("classifier-glaucoma-index", "glaucoma_index", glaucoma_index=7),
    _classifier("classifier-one-class", "class_names", class_names=["glaucoma"], glaucoma_index=0),
    _classifier("classifier-preprocess", "preprocess", preprocess="sharpen"),
    _classifier("classifier-calibration-temperature", "temperature", calibration={"temperature": 0}),
    _classifier("classifier-ood-k", "k", ood={"k": "ten"}),
    # weights that do not fit a valid spec
    _case("classifier-wrong-shapes", CLASSIFIER, TINY_ALEXNET, "weights", tensors=lambda: _alexnet_tensors(width=0.25)),
    _case("classifier-wrong-keys", CLASSIFIER, TINY_ALEXNET, "weights"),
    # vessel segmenter
    _case("vessels-spec-list", VESSELS, [16, 3], "spec"),
    _case("vessels-depth-huge", VESSELS, {"base": 16, "depth": 40}, "depth"),
    _case("vessels-base-zero", VESSELS, {"base": 0}, "base"),
    _case("vessels-fov-string", VESSELS, {"fov_diameter": "720"}, "fov_diameter"),
    _case("vessels-threshold", VESSELS, {"threshold": 2}, "threshold"),
    _case("vessels-wrong-keys", VESSELS, {"base": 4, "depth": 2}, "weights"),
    _case(
        "vessels-wrong-shapes", VESSELS, {"base": 4, "depth": 2}, "weights", tensors=lambda: _unet_tensors(3, 1, 8, 2)
    ),
    # cup/disc segmenter
    _case("cup-disc-spec-string", CUP_DISC, "unet", "spec"),
    _case("cup-disc-input-size-zero", CUP_DISC, {"input_size": 0}, "input_size"),
    _case("cup-disc-resize-small", CUP_DISC, {"input_size": 128, "resize": 64}, "resize"),
    _case("cup-disc-diameters", CUP_DISC, {"diameters": -1}, "diameters"),
    _case(
        "cup-disc-wrong-shapes", CUP_DISC, {"base": 4, "depth": 2}, "weights", tensors=lambda: _unet_tensors(3, 1, 4, 2)
    ),
    # Patho-GAN generator
    _case("gan-spec-list", GAN, [], "spec"),
    _case("gan-size-odd", GAN, {"size": 100, "gen_depth": 4}, "size"),
    _case("gan-depth-zero", GAN, {"gen_depth": 0}, "gen_depth"),
    _case("gan-pathology", GAN, {"pathology": "cataract"}, "pathology"),
    _case("gan-noise-negative", GAN, {"noise_channels": -1}, "noise_channels"),
    _case("gan-wrong-keys", GAN, {"size": 64, "gen_base": 4, "gen_depth": 2}, "weights"),
]
