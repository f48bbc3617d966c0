"""Bringing a research group's own classifier in: a torchvision / timm network's state dict becomes a
Fundus Viewer checkpoint that every feature takes as it takes the bundled one.

Nothing in the weights file runs: ``.pt`` / ``.pth`` files are read with ``torch.load(weights_only=True)``,
which refuses any pickle that would need code (a whole pickled model, a custom class) before running
it; safetensors files hold tensors only. A checkpoint dict holding the state dict under a usual key is
unwrapped, and DataParallel's ``module.`` prefixes are stripped.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.digest import file_sha256
from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.checkpoint import load_weights, save_classifier
from fundus_viewer.core.models.classifier import IMAGENET_MEAN, IMAGENET_STD, ClassifierSpec, GlaucomaClassifier

STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "net", "network")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a state dict file (.pt / .pth / .bin via torch's weights-only loader, or .safetensors)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path}: refused: unpickling it would run code or build objects other than tensors ({first}). "
                "Nothing in it was run. Save the weights alone, e.g. torch.save(model.state_dict(), PATH), "
                "or as safetensors."
            ) from None
        except Exception as exc:
            raise CheckpointError(
                f"{path}: not a readable PyTorch weights file ({type(exc).__name__}: {exc})"
            ) from None
    return _unwrap(state, path)


def _unwrap(state, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(state, dict) and not _all_tensors(state):
        for key in STATE_DICT_KEYS:
            if isinstance(state.get(key), dict) and _all_tensors(state[key]):
                state = state[key]
                break
        else:
            raise CheckpointError(
                f"{path}: holds no state dict (looked for a dict of tensors, or one under {', '.join(STATE_DICT_KEYS)})"
            )
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path}: holds no state dict (a {type(state).__name__})")
    while all(k.startswith("module.") for k in state):  # DataParallel / DistributedDataParallel
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def _all_tensors(mapping: dict) -> bool:
    return bool(mapping) and all(isinstance(v, torch.Tensor) for v in mapping.values())


@dataclass
class ImportedModel:
    model: GlaucomaClassifier
    path: Path
    card: Path
    source_sha256: str


def import_classifier(
    weights: str | Path,
    arch: str,
    out: str | Path,
    classes: tuple[str, ...] = ("normal", "glaucoma"),
    glaucoma_class: str = "glaucoma",
    input_size: int = 224,
    resize: int | None = None,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    crop: str = "fov",
    layers: tuple[str, ...] = (),
    notes: str = "",
) -> ImportedModel:
    """Build ``arch`` empty, fill it from ``weights`` (strict), and write a checkpoint and its card."""
    if glaucoma_class not in classes:
        raise CheckpointError(f"--glaucoma-class {glaucoma_class!r} is not one of the classes {', '.join(classes)}")
    if crop not in ("fov", "disc", "none"):
        raise CheckpointError(f"--crop {crop!r}: use fov, disc or none")
    state = read_state_dict(weights)
    spec = ClassifierSpec(
        arch=arch,
        input_size=input_size,
        resize=resize,
        mean=_rgb(mean),
        std=_rgb(std),
        class_names=tuple(classes),
        glaucoma_index=classes.index(glaucoma_class),
        crop=crop,
        layers=tuple(layers),
    )
    # the loader's own checks, now: a file the loader would refuse is never written
    ClassifierSpec.from_dict(spec.to_dict(), f"{Path(out).name}: the options give a spec whose")
    try:
        model = GlaucomaClassifier(spec)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    load_weights(model.network, state, weights, arch)
    model.eval().requires_grad_(False)
    try:  # trace now: a network with nothing to visualise is refused before anything is written
        _ = model.cam_is_true_cam
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise CheckpointError(f"{arch} at {input_size} px: {exc}") from None
    if layers:
        known = dict(model.named_modules())
        unknown = [name for name in layers if name not in known]
        if unknown:
            raise CheckpointError(
                f"--layers: no layer {', '.join(unknown)}; the network's stages are {', '.join(model.traced.stages)}"
            )
    digest = file_sha256(weights)
    spec.training = {"imported_from": str(weights), "source_sha256": digest, "notes": notes}
    path = save_classifier(model, out)
    card = path.with_suffix(".md")
    atomic_write(card, _card(model, Path(weights), digest, notes))
    model.checkpoint_path = str(path)
    return ImportedModel(model, path, card, digest)


def _rgb(values: Sequence[float]) -> tuple[float, float, float]:
    """The three (R, G, B) values as a tuple, from any sequence (a list, say)."""
    red, green, blue = values
    return red, green, blue


def _card(model: GlaucomaClassifier, weights: Path, digest: str, notes: str) -> str:
    spec = model.spec
    lines = [
        f"# Imported classifier: {spec.arch}",
        "",
        "Imported with `fundus-viewer import-model`. What it was trained on and how well it does are what its",
        "owners state below; Fundus Viewer did not train or test it.",
        "",
        f"- source: `{weights.name}`, SHA-256 `{digest}`",
        f"- classes: {', '.join(spec.class_names)} (glaucoma: `{spec.class_names[spec.glaucoma_index]}`)",
        f"- input: {spec.input_size} px, crop `{spec.crop}`"
        + (f", resized to {spec.resize} first" if spec.resize else ""),
        f"- normalisation: mean {list(spec.mean)}, std {list(spec.std)}",
        f"- visualised layers: {', '.join(model.default_layers)}"
        + (" (chosen at import)" if spec.layers else " (traced)"),
        f"- CAM layer: `{model.cam_layer}` ("
        + ("true CAM: the head is GAP + linear" if model.cam_is_true_cam else "Grad-CAM: the head is not GAP + linear")
        + ")",
        "",
        "## Notes from its owners",
        "",
        notes.strip() or "(none given)",
        "",
    ]
    return "\n".join(lines)
