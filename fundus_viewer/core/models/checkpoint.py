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
from fundus_viewer.core.models.spec import SpecDict
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
            spec = check_spec(kind, json.loads(metadata["spec"]), f"{path}: spec")
            # safe_open is no dict: it has keys() but no __iter__ (so SIM118 does not apply)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()} if with_tensors else None  # noqa: SIM118
    except SafetensorError as exc:
        raise CheckpointError(
            f"{path}: not a safetensors checkpoint ({exc}); Fundus Viewer never unpickles model files"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({exc})") from None
    return spec, tensors


def check_spec(kind: str, spec, where: str) -> dict:
    """``spec`` with every field of ``kind``'s spec checked (CheckpointError naming ``where`` and the
    field) and the missing ones at their defaults: every reader of a model file (loaders, model cards)
    sees only checked, complete metadata. Keys a newer version wrote are kept."""
    checked: SpecDict | ClassifierSpec
    if kind == KIND:
        checked = ClassifierSpec.from_dict(spec, where)
    elif kind == "fundus-viewer/patho-gan":
        from fundus_viewer.core.gan.checkpoint import check_gan_spec

        checked = check_gan_spec(spec, where)
    else:
        from fundus_viewer.core.models.segmenter import check_segmenter_spec

        checked = check_segmenter_spec(kind, spec, where)
    return {**spec, **checked.to_dict()}


def build_checked(build, tensors: dict, path, arch: str):
    """``build()`` (a model with a ``network``) once on the meta device, which allocates nothing, to
    check the file's tensors against its network, then for real with them loaded: a spec asking for a
    network far larger than its weights is refused before anything is allocated. Networks that copy
    tensors while built (torchvision's RegNets) cannot be built on meta; they are built for real (the
    spec's bounds limit their size) and checked then."""
    try:
        try:
            with torch.device("meta"):
                expected = build().network.state_dict()
        except (RuntimeError, NotImplementedError):  # "Cannot copy out of meta tensor"
            expected = None
        if expected is not None:
            check_weights(expected, tensors, path, arch)
        model = build()
    except ValueError as exc:  # timm not installed, or without that model
        raise CheckpointError(f"{path}: {str(exc).splitlines()[0]}") from None
    except (TypeError, RuntimeError, AssertionError, NotImplementedError) as exc:  # an option it refuses ...
        raise CheckpointError(f"{path}: cannot build its '{arch}' network ({str(exc).splitlines()[0]})") from None
    load_weights(model.network, tensors, path, arch)
    return model


def check_weights(expected: dict, tensors: dict, path, arch: str) -> None:
    """CheckpointError saying what does not match: names, shapes, or values that are not numbers."""
    wrong_shape = [k for k, v in tensors.items() if k in expected and expected[k].shape != v.shape]
    if wrong_shape:
        raise CheckpointError(
            f"{path}: weights do not match the '{arch}' architecture (wrong shape for {', '.join(wrong_shape[:3])})"
        )
    # BatchNorm's strict load fills in a missing batch counter (files saved before PyTorch 0.4.1 lack it)
    missing = [k for k in expected if k not in tensors and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected[:3])}")
        raise CheckpointError(f"{path}: weights do not match the '{arch}' architecture ({'; '.join(details)})")
    wrong_type = [k for k, v in tensors.items() if expected[k].is_floating_point() and not v.is_floating_point()]
    if wrong_type:
        raise CheckpointError(f"{path}: weights {', '.join(wrong_type[:3])} are not floating-point numbers")


def load_weights(network, tensors: dict, path, arch: str) -> None:
    """Strict load with a message that says what does not match."""
    check_weights(network.state_dict(), tensors, path, arch)
    network.load_state_dict(tensors)


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
    return ClassifierSpec.from_dict(read_checkpoint(path, KIND, with_tensors=False)[0], f"{path}: spec")


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
    spec = ClassifierSpec.from_dict(spec_dict, f"{path}: spec")
    model = build_checked(lambda: GlaucomaClassifier(spec), tensors, path, spec.arch)
    try:
        _ = model.cam_layer  # traced now (a torchvision / timm network): a failure is this file's
    except (ValueError, RuntimeError, AssertionError) as exc:  # nothing to visualise ...
        raise CheckpointError(f"{path}: {exc}") from None
    if bank is not None and (bank.ndim != 2 or not bank.is_floating_point()):
        raise CheckpointError(f"{path}: its out-of-distribution bank is not a matrix of features")
    model.eval().requires_grad_(False)
    model.ood_bank = bank.float() if bank is not None and spec.ood else None
    model.checkpoint_path = str(path)  # what an exported map's sidecar names as its source
    return model.to(device)
