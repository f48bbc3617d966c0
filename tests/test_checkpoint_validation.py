"""A model file's metadata is checked field by field before anything is built from it (issue #19,
item 6). The crafted files of tests/bad_files/checkpoints.py run against every command in
test_bad_file_corpus.py; here: the checker itself, and what it costs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from bad_files.checkpoints import CLASSIFIER, GAN, TINY_ALEXNET, VESSELS, write_model

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.checkpoint import load_classifier, read_checkpoint, read_spec
from fundus_viewer.core.models.classifier import ClassifierSpec
from fundus_viewer.core.models.spec import Between, OneOf, checked_fields


def test_fields_are_typed_and_bounded():
    spec = ClassifierSpec.from_dict({"mean": [0, 0.5, 1], "class_names": ["a", "b"], "input_size": 99}, "x")
    assert spec.mean == (0.0, 0.5, 1.0) and spec.class_names == ("a", "b") and spec.input_size == 99
    with pytest.raises(CheckpointError, match=r"^x field 'circle' is 1; it must be true or false$"):
        ClassifierSpec.from_dict({"circle": 1}, "x")
    with pytest.raises(CheckpointError, match=r"^x field 'input_size' is True; it must be an integer$"):
        ClassifierSpec.from_dict({"input_size": True}, "x")
    with pytest.raises(CheckpointError, match=r"field 'disc_diameters' is nan; it must be a number"):
        ClassifierSpec.from_dict({"disc_diameters": math.nan}, "x")
    with pytest.raises(CheckpointError, match=r"field 'resize' is 100; it must be at least input_size \(227\)"):
        ClassifierSpec.from_dict({"resize": 100}, "x")
    # a newer version's keys are left out, not refused
    assert ClassifierSpec.from_dict({"future_field": [1]}, "x") == ClassifierSpec()


def test_limits_say_what_they_allow():
    from dataclasses import dataclass

    @dataclass
    class Options:
        k: int = 1
        name: str = "a"
        low: float = 0.0

    limits = {"k": Between(1, 10), "name": OneOf(("a", "b")), "low": Between(0, math.inf)}
    assert checked_fields(Options, {"k": 10, "name": "b", "low": math.inf}, "o", limits) == {
        "k": 10,
        "name": "b",
        "low": math.inf,
    }
    with pytest.raises(CheckpointError, match="^o field 'k' is 11; it must be from 1 to 10$"):
        checked_fields(Options, {"k": 11}, "o", limits)
    with pytest.raises(CheckpointError, match="^o field 'low' is -1; it must be at least 0$"):
        checked_fields(Options, {"low": -1}, "o", limits)
    with pytest.raises(CheckpointError, match="^o field 'name' is 'c'; it must be one of a, b$"):
        checked_fields(Options, {"name": "c"}, "o", limits)


def test_a_zero_std_is_refused_not_called_nan(tmp_path, tiny_alexnet):
    """It used to load and call every photo "nan normal"."""
    tensors = tiny_alexnet.network.state_dict()
    spec = {**tiny_alexnet.spec.to_dict(), "std": [0, 0, 0]}
    path = write_model(tmp_path / "zero-std.safetensors", CLASSIFIER, spec, tensors)
    with pytest.raises(CheckpointError, match=r"zero-std.safetensors: spec field 'std' is \[0, 0, 0\]"):
        load_classifier(path)
    good = write_model(tmp_path / "good.safetensors", CLASSIFIER, tiny_alexnet.spec.to_dict(), tensors)
    assert load_classifier(good).spec == tiny_alexnet.spec


def test_readers_get_a_complete_checked_spec(tmp_path):
    """A model card reads the spec dict: fields the file leaves out come at their defaults (it raised
    KeyError 'class_names'), keys a newer version wrote stay."""
    path = write_model(tmp_path / "sparse.safetensors", CLASSIFIER, {**TINY_ALEXNET, "later": 1})
    spec, _ = read_checkpoint(path, CLASSIFIER, with_tensors=False)
    assert spec["class_names"] == ("normal", "glaucoma") and spec["later"] == 1 and spec["input_size"] == 64
    assert read_spec(path).arch_options == {"width": 0.125, "hidden": 8}
    vessels = write_model(tmp_path / "v.safetensors", VESSELS, {"depth": 2})
    assert read_checkpoint(vessels, VESSELS, with_tensors=False)[0]["fov_diameter"] == 720


def test_every_shipped_model_passes_its_own_checks():
    from fundus_viewer.core.models.checkpoint import KIND_TITLES
    from fundus_viewer.core.resources import models_dir

    files = sorted(models_dir().glob("*.safetensors"))
    if not files:
        pytest.skip("no bundled models in this installation")
    from safetensors import safe_open

    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter
    from fundus_viewer.core.gan.checkpoint import load_generator
    from fundus_viewer.core.vessels import load_vessel_segmenter

    loaders = {
        CLASSIFIER: load_classifier,
        VESSELS: load_vessel_segmenter,
        "fundus-viewer/cup-disc-segmenter": load_cup_disc_segmenter,
        GAN: load_generator,
    }
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            kind = handle.metadata()["kind"]
        assert kind in KIND_TITLES
        read_checkpoint(path, kind, with_tensors=False)  # raises if its own metadata were refused
        loaders[kind](path)  # and the real loader: its weights against its network too


PROBE = """
import resource, sys, time
sys.path.insert(0, "tests")
from bad_files.checkpoints import write_model
from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.gan.checkpoint import load_generator
from fundus_viewer.core.models.unet import UNet
# the largest U-Net a spec may ask for (8192 channels at the bottom: gigabytes), with a tiny file's weights
path = write_model(__import__("pathlib").Path(sys.argv[1]), "fundus-viewer/patho-gan",
                   {"size": 256, "gen_base": 128, "gen_depth": 6}, UNet(2, 3, 4, 2).state_dict())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    load_generator(path)
except CheckpointError as exc:
    print(str(exc).split(": ", 1)[1])
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_a_huge_network_with_small_weights_is_refused_before_it_allocates(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "big.safetensors")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    message, numbers = result.stdout.strip().splitlines()
    seconds, grown_kb = map(float, numbers.split())
    assert message.startswith("weights do not match the 'Patho-GAN generator' architecture")
    assert seconds < 2 and grown_kb < 200_000, (seconds, grown_kb)  # built on the meta device first


def test_weights_that_are_not_numbers_are_refused(tmp_path, tiny_alexnet):
    tensors = {
        k: v.to(torch.int32) if k.endswith("conv1.weight") else v for k, v in tiny_alexnet.network.state_dict().items()
    }
    path = write_model(tmp_path / "ints.safetensors", CLASSIFIER, tiny_alexnet.spec.to_dict(), tensors)
    with pytest.raises(CheckpointError, match="ints.safetensors: weights features.conv1.weight are not floating"):
        load_classifier(path)


def test_spec_of_the_wrong_json_kind_is_named(tmp_path):
    path = write_model(tmp_path / "g.safetensors", GAN, None, raw_spec=json.dumps(3))
    with pytest.raises(CheckpointError, match=r"g.safetensors: spec is a JSON number, not an object"):
        read_checkpoint(path, GAN)


def _imported(tmp_path, arch: str, state: dict):
    from fundus_viewer.core.models.importing import import_classifier

    torch.save(state, tmp_path / "weights.pth")
    return import_classifier(tmp_path / "weights.pth", arch, tmp_path / "model.safetensors", input_size=128)


def test_an_imported_regnet_loads(tmp_path):
    """The meta-device check build fails for every torchvision RegNet ("Cannot copy out of meta tensor")."""
    import torchvision

    torch.manual_seed(0)
    network = torchvision.models.regnet_y_400mf(weights=None, num_classes=2)
    imported = _imported(tmp_path, "torchvision:regnet_y_400mf", network.state_dict())
    loaded = load_classifier(imported.path)
    assert torch.equal(loaded.network.stem[0].weight, network.stem[0].weight)


def test_a_state_dict_without_batch_counters_imports_and_loads(tmp_path):
    """PyTorch's strict load fills in missing BatchNorm ``num_batches_tracked``; so must ours."""
    import torchvision

    network = torchvision.models.resnet18(weights=None, num_classes=2)
    state = {k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    imported = _imported(tmp_path, "torchvision:resnet18", state)
    path = write_model(tmp_path / "nbt.safetensors", CLASSIFIER, imported.model.spec.to_dict(), state)
    assert torch.equal(load_classifier(path).network.conv1.weight, network.conv1.weight)


def test_import_model_refuses_options_the_loader_would_refuse_before_writing(tmp_path):
    import torchvision

    from fundus_viewer.core.models.importing import import_classifier

    torch.save(torchvision.models.resnet18(weights=None, num_classes=2).state_dict(), tmp_path / "w.pth")
    out = tmp_path / "model.safetensors"
    with pytest.raises(CheckpointError, match=r"model.safetensors: .*field 'std' is \(0, 0, 0\)"):
        import_classifier(tmp_path / "w.pth", "torchvision:resnet18", out, input_size=128, std=(0, 0, 0))
    assert not out.exists()
