"""Checkpoints round-trip, carry their metadata and never execute code."""

import json

import pytest
import torch
from safetensors.torch import save_file

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.checkpoint import load_classifier, read_spec, save_classifier
from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier


@pytest.mark.parametrize(
    "arch,size,options",
    [
        ("alexnet", 227, {"width": 0.125, "hidden": 16}),
        ("alexnet", 227, {"width": 0.125, "hidden": 16, "padding_mode": "reflect", "cdr_head": True}),
        ("resnet18", 64, {}),
    ],
)
def test_round_trip_gives_the_same_outputs(tmp_path, arch, size, options):
    torch.manual_seed(0)
    spec = ClassifierSpec(
        arch=arch, input_size=size, arch_options=options, training={"data": "synthetic"}, metrics={"auc": 0.5}
    )
    model = GlaucomaClassifier(spec).eval()
    x = torch.rand(2, 3, size, size)
    path = save_classifier(model, tmp_path / "m.safetensors")
    loaded = load_classifier(path)
    assert torch.allclose(model(x), loaded(x), atol=1e-6)
    assert (
        loaded.spec.arch == arch
        and loaded.spec.training == {"data": "synthetic"}
        and loaded.spec.metrics == {"auc": 0.5}
    )
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    assert read_spec(path).input_size == size


def test_a_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.safetensors"
    torch.save({"weights": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a safetensors checkpoint"):
        load_classifier(path)
    assert not marker.exists()


def test_foreign_safetensors_and_wrong_architecture(tmp_path, tiny_alexnet):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not a Fundus Viewer model, not a classifier checkpoint"):
        load_classifier(tmp_path / "other.safetensors")
    # an AlexNet's weights under a ResNet label
    tensors = {k: v.contiguous() for k, v in tiny_alexnet.network.state_dict().items()}
    spec = ClassifierSpec(arch="resnet18", input_size=224)
    metadata = {"kind": "fundus-viewer/classifier", "format_version": "1", "spec": json.dumps(spec.to_dict())}
    save_file(tensors, str(tmp_path / "mixed.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match="do not match the 'resnet18' architecture"):
        load_classifier(tmp_path / "mixed.safetensors")
    # same architecture, other width: shapes differ
    wide = ClassifierSpec(arch="alexnet", input_size=227, arch_options={"width": 0.25, "hidden": 32})
    metadata["spec"] = json.dumps(wide.to_dict())
    save_file(tensors, str(tmp_path / "wide.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_classifier(tmp_path / "wide.safetensors")


def test_missing_and_newer_files(tmp_path, tiny_alexnet):
    with pytest.raises(CheckpointError, match="no such model file"):
        load_classifier(tmp_path / "absent.safetensors")
    tensors = {k: v.contiguous() for k, v in tiny_alexnet.network.state_dict().items()}
    metadata = {
        "kind": "fundus-viewer/classifier",
        "format_version": "99",
        "spec": json.dumps(tiny_alexnet.spec.to_dict()),
    }
    save_file(tensors, str(tmp_path / "future.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match="newer"):
        load_classifier(tmp_path / "future.safetensors")


def test_truncated_checkpoint(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_classifier(tmp_path / "cut.safetensors")
