"""Classifier checkpoints: safetensors weights plus JSON metadata in the same file.

Loading never unpickles anything, so a model file cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier
from fundus_viewer.core.resources import default_classifier_path

KIND = "fundus-viewer/classifier"
FORMAT_VERSION = 1


def save_classifier(model: GlaucomaClassifier, path: str | Path) -> Path:
    """Write weights and spec atomically (a crash mid-write leaves the old file intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.network.state_dict().items()}
    metadata = {"kind": KIND, "format_version": str(FORMAT_VERSION), "spec": json.dumps(model.spec.to_dict())}
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata=metadata)
    partial.replace(path)
    return path


def read_spec(path: str | Path) -> ClassifierSpec:
    """The metadata of a checkpoint, without loading its weights."""
    return _open_checked(Path(path))[0]


def load_classifier(path: str | Path | None = None, device: str | torch.device = "cpu") -> GlaucomaClassifier:
    """Load a checkpoint (default: the bundled classifier) in eval mode, gradients off for weights."""
    path = Path(path) if path is not None else default_classifier_path()
    if not path.exists():
        hint = " (no default classifier is bundled with this installation; pass --model CKPT)" if path == default_classifier_path() else ""
        raise CheckpointError(f"{path}: no such model file{hint}")
    spec, tensors = _open_checked(path, with_tensors=True)
    model = GlaucomaClassifier(spec)
    expected = model.network.state_dict()
    wrong_shape = [k for k, v in tensors.items() if k in expected and expected[k].shape != v.shape]
    if wrong_shape:
        raise CheckpointError(
            f"{path}: weights do not match the '{spec.arch}' architecture (wrong shape for {', '.join(wrong_shape[:3])})"
        )
    result = model.network.load_state_dict(tensors, strict=False)
    if result.missing_keys or result.unexpected_keys:
        details = []
        if result.missing_keys:
            details.append(f"missing {', '.join(result.missing_keys[:3])}")
        if result.unexpected_keys:
            details.append(f"unexpected {', '.join(result.unexpected_keys[:3])}")
        raise CheckpointError(f"{path}: weights do not match the '{spec.arch}' architecture ({'; '.join(details)})")
    model.eval().requires_grad_(False)
    return model.to(device)


def _open_checked(path: Path, with_tensors: bool = False):
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("kind") != KIND:
                raise CheckpointError(f"{path}: a safetensors file, but not a Fundus Viewer classifier checkpoint")
            version = int(metadata.get("format_version", "0"))
            if version > FORMAT_VERSION:
                raise CheckpointError(f"{path}: checkpoint format {version} is newer than this Fundus Viewer ({FORMAT_VERSION}); update the app")
            spec = ClassifierSpec.from_dict(json.loads(metadata["spec"]))
            tensors = {key: handle.get_tensor(key) for key in handle.keys()} if with_tensors else None
    except SafetensorError as exc:
        raise CheckpointError(
            f"{path}: not a safetensors checkpoint ({exc}); Fundus Viewer never unpickles model files"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({exc})") from None
    return spec, tensors
