"""Model checkpoints (classifier, vessel segmenter): safetensors weights plus JSON metadata in one file.

Loading never unpickles anything, so a model file cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, overload

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier
from fundus_viewer.core.resources import default_classifier_path

KIND = "fundus-viewer/classifier"
# 2: a classifier's calibration, OOD rule and feature bank (tensors beside the weights), which an app of
# format 1 would ignore; files without them are still written as 1
FORMAT_VERSION = 2
# every kind of model file, so a wrong one is named whichever modules were imported
KIND_TITLES = {
    KIND: "classifier",
    "fundus-viewer/vessel-segmenter": "vessel segmenter",
    "fundus-viewer/cup-disc-segmenter": "cup/disc segmenter",
    "fundus-viewer/patho-gan": "Patho-GAN generator",
}


def write_checkpoint(
    path: str | Path, kind: str, network, spec: dict, half: bool = False, extra: dict | None = None, version: int = 1
) -> Path:
    """Weights (float16 when ``half``) plus JSON metadata, written atomically; ``extra``: other tensors
    (under a prefix no network uses, e.g. ``ood.features``). ``version``: the oldest format that reads
    the file right (an older app refuses a newer one rather than ignore what it holds)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, value in network.state_dict().items():
        value = value.detach().cpu()
        if half and value.is_floating_point():
            value = value.half()
        tensors[key] = value.contiguous()
    for key, value in (extra or {}).items():
        tensors[key] = value.detach().cpu().contiguous()
    metadata = {"kind": kind, "format_version": str(version), "spec": json.dumps(spec)}
    return atomic_write(path, save(tensors, metadata=metadata))


@overload
def read_checkpoint(
    path: str | Path, kind: str, with_tensors: Literal[True] = True
) -> tuple[dict, dict[str, torch.Tensor]]: ...


@overload
def read_checkpoint(path: str | Path, kind: str, with_tensors: Literal[False]) -> tuple[dict, None]: ...


@overload
def read_checkpoint(path: str | Path, kind: str, with_tensors: bool) -> tuple[dict, dict[str, torch.Tensor] | None]: ...


def read_checkpoint(
    path: str | Path, kind: str, with_tensors: bool = True
) -> tuple[dict, dict[str, torch.Tensor] | None]:
    """(spec dict, tensors) of a checkpoint of the given kind; CheckpointError for anything else."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such model file")
    title = KIND_TITLES.get(kind, kind)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            found = metadata.get("kind")
            if found != kind:
                what = f"a {KIND_TITLES[found]}" if found in KIND_TITLES else "not a Fundus Viewer model"
                raise CheckpointError(f"{path}: a safetensors file, but {what}, not a {title} checkpoint")
            version = int(metadata.get("format_version", "0"))
            if version > FORMAT_VERSION:
                raise CheckpointError(
                    f"{path}: checkpoint format {version} is newer than this Fundus Viewer ({FORMAT_VERSION}); "
                    "update the app"
                )
            spec = json.loads(metadata["spec"])
            # safe_open is no dict: it has keys() but no __iter__ (so SIM118 does not apply)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()} if with_tensors else None  # noqa: SIM118
    except SafetensorError as exc:
        raise CheckpointError(
            f"{path}: not a safetensors checkpoint ({exc}); Fundus Viewer never unpickles model files"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({exc})") from None
    return spec, tensors


def load_weights(network, tensors: dict, path, arch: str) -> None:
    """Strict load with a message that says what does not match."""
    expected = network.state_dict()
    wrong_shape = [k for k, v in tensors.items() if k in expected and expected[k].shape != v.shape]
    if wrong_shape:
        raise CheckpointError(
            f"{path}: weights do not match the '{arch}' architecture (wrong shape for {', '.join(wrong_shape[:3])})"
        )
    result = network.load_state_dict(tensors, strict=False)
    if result.missing_keys or result.unexpected_keys:
        details = []
        if result.missing_keys:
            details.append(f"missing {', '.join(result.missing_keys[:3])}")
        if result.unexpected_keys:
            details.append(f"unexpected {', '.join(result.unexpected_keys[:3])}")
        raise CheckpointError(f"{path}: weights do not match the '{arch}' architecture ({'; '.join(details)})")


def save_classifier(model: GlaucomaClassifier, path: str | Path, half: bool = False) -> Path:
    """Write weights and spec atomically (a crash mid-write leaves the old file intact).

    ``half`` stores floating-point weights as float16 (half the size; loading casts them back).
    """
    from fundus_viewer.core.ood import BANK_KEY

    bank = getattr(model, "ood_bank", None)
    extra = {BANK_KEY: bank.half()} if bank is not None else None
    version = 2 if extra or model.spec.calibration or model.spec.ood else 1
    return write_checkpoint(path, KIND, model.network, model.spec.to_dict(), half=half, extra=extra, version=version)


def stored_half(path: str | Path) -> bool:
    """Whether a checkpoint keeps its floating-point weights as float16 (so a rewrite can keep its size)."""
    from fundus_viewer.core.ood import BANK_KEY

    with safe_open(str(path), framework="pt") as handle:
        # the bank is always float16; safe_open has keys() but no __iter__ (so SIM118 does not apply)
        keys = [k for k in handle.keys() if k != BANK_KEY]  # noqa: SIM118
        return bool(keys) and any(handle.get_slice(k).get_dtype() == "F16" for k in keys[:8])


def read_spec(path: str | Path) -> ClassifierSpec:
    """The metadata of a checkpoint, without loading its weights."""
    return ClassifierSpec.from_dict(read_checkpoint(path, KIND, with_tensors=False)[0])


def load_classifier(path: str | Path | None = None, device: str | torch.device = "cpu") -> GlaucomaClassifier:
    """Load a checkpoint (default: the bundled classifier) in eval mode, gradients off for weights."""
    path = Path(path) if path is not None else default_classifier_path()
    if not path.exists():
        hint = (
            " (no default classifier is bundled with this installation; pass --model CKPT)"
            if path == default_classifier_path()
            else ""
        )
        raise CheckpointError(f"{path}: no such model file{hint}")
    from fundus_viewer.core.ood import BANK_KEY

    spec_dict, tensors = read_checkpoint(path, KIND)
    bank = tensors.pop(BANK_KEY, None)
    spec = ClassifierSpec.from_dict(spec_dict)
    try:
        model = GlaucomaClassifier(spec)
        _ = model.cam_layer  # traced now (a torchvision / timm network): a failure is this file's
    except (ValueError, RuntimeError, AssertionError) as exc:  # timm not installed, nothing to visualise ...
        raise CheckpointError(f"{path}: {exc}") from None
    load_weights(model.network, tensors, path, spec.arch)
    model.eval().requires_grad_(False)
    model.ood_bank = bank.float() if bank is not None and spec.ood else None
    model.checkpoint_path = str(path)  # what an exported map's sidecar names as its source
    return model.to(device)
