"""Your own classifier: torchvision networks with seeded random weights imported from state dicts, their
traced layers, and the pathology maps on them checked against Eqs. 1-4 evaluated by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fundus_viewer.core.errors import CheckpointError

# family -> the stages a reader of its torchvision source expects to be visualised, and whether its
# head is GAP + linear (so that Grad-CAM is the true CAM)
FAMILIES = {
    "resnet50": (("layer2", "layer3", "layer4"), True),
    "densenet121": (
        ("features.denseblock2", "features.denseblock3", "features.denseblock4"),
        False,
    ),  # ReLU after norm5
    "efficientnet_b0": (("features.3", "features.5", "features.8"), True),
    "vgg16_bn": (("features.32", "features.42", "features.43"), False),  # three fc layers
    "convnext_tiny": (("features.3", "features.5", "features.7"), False),  # LayerNorm after the pooling
}
# timm's own module names (built only where timm is installed: pip install ".[timm]")
TIMM_FAMILIES = {
    "resnet50": (("layer2", "layer3", "layer4"), True),
    "efficientnet_b0": (
        ("blocks.2", "blocks.4", "bn2"),
        True,
    ),  # blocks.* stand beside the stem and head; bn2 holds its SiLU
    "convnext_tiny": (("stages.1", "stages.2", "stages.3"), False),  # the head normalises after pooling
}
SIZE = 128  # every family runs at this size (the smallest stage is then 4 x 4 or larger)
CASES = [f"torchvision:{name}" for name in sorted(FAMILIES)] + [f"timm:{name}" for name in sorted(TIMM_FAMILIES)]


def state_dict_file(tmp_path, name: str, seed: int = 0, wrap=None):
    """A seeded random network of torchvision (``resnet18``) or timm (``timm:NAME``) and its saved state dict."""
    import torchvision

    torch.manual_seed(seed)
    if name.startswith("timm:"):
        timm = pytest.importorskip("timm")
        network = timm.create_model(name[len("timm:") :], pretrained=False, num_classes=2)
    else:
        network = torchvision.models.get_model(name, weights=None, num_classes=2)
    state = network.state_dict()
    path = tmp_path / f"{name.replace(':', '-')}.pth"
    torch.save(wrap(state) if wrap else state, path)
    return path, network


def brute_force(model, x, layers, theta_act, cmi_low, cmi_high):
    """Eqs. 1-4 with hooks placed here, numpy for the statistics, 'max' CMI normalisation."""
    outputs = []
    handles = [
        model.get_submodule(name).register_forward_hook(lambda _m, _i, out: outputs.append(out)) for name in layers
    ]
    try:
        with torch.enable_grad():
            logit = model(x.clone().requires_grad_(True))[0, model.glaucoma_index]  # frozen weights
            gradients = torch.autograd.grad(logit, outputs)
    finally:
        for handle in handles:
            handle.remove()
    grid = max((tuple(a.shape[-2:]) for a in outputs), key=lambda s: s[0] * s[1])
    total = {"rl": 0.0, "rnfld": 0.0}
    for a, g in zip(outputs, gradients, strict=True):
        a = a[0].detach().double().numpy()
        w = g[0].double().numpy().mean(axis=(1, 2))  # Eq. 3
        l1 = np.abs(a).sum(axis=(1, 2))
        active = l1 > theta_act * l1.max()  # Eq. 1
        cmi = np.zeros(len(a))
        for k, m in enumerate(np.clip(a, 0, None)):  # Eq. 2, one map at a time
            if m.sum() == 0:
                continue
            rows, cols = np.indices(m.shape)
            ic, jc = (rows * m).sum() / m.sum(), (cols * m).sum() / m.sum()
            cmi[k] = (((rows - ic) ** 2 + (cols - jc) ** 2) * m).sum()
        normalized = cmi / cmi.max()
        for name, keep in (("rl", active & (normalized > cmi_high)), ("rnfld", active & (normalized < cmi_low))):
            v = np.tensordot(w * keep, a, axes=1)  # Eq. 4 for this layer
            up = F.interpolate(torch.from_numpy(v)[None, None], size=grid, mode="bilinear", align_corners=False)[0, 0]
            total[name] = total[name] + up.numpy()
    return total


@pytest.mark.parametrize("arch", CASES)
def test_an_imported_network_gets_its_stages_and_the_papers_maps(arch, tmp_path):
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.models.importing import import_classifier
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    library, _, family = arch.partition(":")
    weights, original = state_dict_file(tmp_path, family if library == "torchvision" else arch)
    imported = import_classifier(weights, arch, tmp_path / "model.safetensors", input_size=SIZE)
    model = load_classifier(imported.path)
    expected, true_cam = (FAMILIES if library == "torchvision" else TIMM_FAMILIES)[family]
    assert model.default_layers == tuple("network." + name for name in expected)
    assert model.cam_layer == "network." + expected[-1] and model.cam_is_true_cam is true_cam
    assert set(model.default_layers) <= set(model.conv_layer_names())
    for key, value in original.state_dict().items():  # the weights are the file's, not new random ones
        assert torch.equal(model.network.state_dict()[key], value)

    rng = np.random.default_rng(1)
    photo = prepare_photo(np.clip(rng.normal(120, 40, (300, 360, 3)), 0, 255).astype(np.uint8))
    visualizer = PathologyVisualizer(model)
    _, _, x = visualizer.prepare(photo)
    maps = visualizer.analyze(photo).heatmaps(0.1, 0.1, 0.9, "max")
    expected_maps = brute_force(model, x, visualizer.layers, 0.1, 0.1, 0.9)
    for name in ("rl", "rnfld"):
        ours = maps.maps[name].grid.astype(np.float64)
        scale = max(1e-12, float(np.abs(expected_maps[name]).max()))
        assert ours.shape == expected_maps[name].shape and np.abs(ours - expected_maps[name]).max() <= 1e-4 * scale


@pytest.mark.parametrize(
    "arch, size, expected",
    [
        ("inception_v3", 299, ("Mixed_5d", "Mixed_6e", "Mixed_7c")),  # parallel branches are not a sequence of stages
        ("maxvit_t", 224, ("blocks.1", "blocks.2", "blocks.3")),  # a ModuleList that never runs itself
        ("swin_t", 128, ("permute",)),  # B x H x W x C stages are not maps; the final norm, made channels-first, is
    ],
)
def test_tracing_keeps_to_sequential_channels_first_stages(arch, size, expected):
    from fundus_viewer.core.models.architectures import build_external
    from fundus_viewer.core.models.tracing import trace_layers

    traced = trace_layers(build_external(f"torchvision:{arch}"), size)
    assert traced.default == expected
    assert all(h == w and h > 1 for h, w in traced.grids.values())


def test_a_vision_transformer_is_refused_with_a_reason(tmp_path):
    from fundus_viewer.core.models.importing import import_classifier

    weights, _ = state_dict_file(tmp_path, "vit_b_16")
    with pytest.raises(CheckpointError, match="no spatial feature maps"):
        import_classifier(weights, "torchvision:vit_b_16", tmp_path / "model.safetensors", input_size=224)
    assert not (tmp_path / "model.safetensors").exists()


def test_a_dataparallel_checkpoint_dict_imports(tmp_path):
    from fundus_viewer.core.models.importing import import_classifier

    wrap = lambda state: {"epoch": 12, "model_state_dict": {f"module.{k}": v for k, v in state.items()}}  # noqa: E731
    weights, original = state_dict_file(tmp_path, "resnet18", wrap=wrap)
    imported = import_classifier(
        weights,
        "torchvision:resnet18",
        tmp_path / "model.safetensors",
        classes=("healthy", "glaucoma"),
        input_size=SIZE,
    )
    assert torch.equal(imported.model.network.conv1.weight, original.conv1.weight)
    assert imported.model.spec.class_names == ("healthy", "glaucoma") and imported.model.glaucoma_index == 1
    card = imported.card.read_text(encoding="utf-8")
    assert imported.source_sha256 in card and "true CAM" in card


def test_weights_for_another_architecture_say_what_does_not_fit(tmp_path):
    from fundus_viewer.core.models.importing import import_classifier

    weights, _ = state_dict_file(tmp_path, "resnet18")
    with pytest.raises(
        CheckpointError,
        match=r"do not match the 'torchvision:resnet50' architecture \(wrong shape for layer1\.0\.conv1\.weight",
    ):
        import_classifier(weights, "torchvision:resnet50", tmp_path / "model.safetensors", input_size=SIZE)
    with pytest.raises(CheckpointError, match="torchvision has no classification model 'resnet51'"):
        import_classifier(weights, "torchvision:resnet51", tmp_path / "model.safetensors", input_size=SIZE)
    assert not (tmp_path / "model.safetensors").exists()


class _Payload:
    """Unpickling this calls ``pickle_ran`` with a path: what a malicious model file would do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (_mark, (str(self.path),))


def _mark(path):
    open(path, "w").close()
    return {}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    from fundus_viewer.core.models.importing import import_classifier

    marker = tmp_path / "ran"
    weights = tmp_path / "evil.pth"
    weights.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}))
    pickle.loads(weights.read_bytes())  # the guard can fail: loaded by plain pickle, the payload runs
    assert marker.exists()
    marker.unlink()
    with pytest.raises(CheckpointError, match="refused: unpickling it would run code") as error:
        import_classifier(weights, "torchvision:resnet18", tmp_path / "model.safetensors", input_size=SIZE)
    assert "Nothing in it was run" in str(error.value) and not marker.exists()


def test_import_model_command_and_the_imported_model_in_heatmap(tmp_path, make_fundus):
    from PIL import Image

    from fundus_viewer.cli.main import main
    from fundus_viewer.core.models.checkpoint import load_classifier

    weights, _ = state_dict_file(tmp_path, "resnet18")
    notes = tmp_path / "notes.md"
    notes.write_text("Trained on our clinic's 2,000 photos; AUC 0.91 on a held-out camera.", encoding="utf-8")
    out = tmp_path / "ours.safetensors"
    assert (
        main(
            [
                "import-model",
                str(weights),
                "--arch",
                "torchvision:resnet18",
                "--out",
                str(out),
                "--input-size",
                "160",
                "--crop",
                "none",
                "--layers",
                "net.layer3,net.layer4".replace("net.", "network."),
                "--card",
                str(notes),
            ]
        )
        == 0
    )
    model = load_classifier(out)
    assert model.default_layers == ("network.layer3", "network.layer4") and model.spec.crop == "none"
    assert "held-out camera" in out.with_suffix(".md").read_text(encoding="utf-8")
    Image.fromarray(make_fundus()).save(tmp_path / "eye.png")
    assert (
        main(
            [
                "heatmap",
                str(tmp_path / "eye.png"),
                "--out",
                str(tmp_path / "maps"),
                "--model",
                str(out),
                "--methods",
                "pathology,cam",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "maps" / "eye.pathology-rl.npy").shape == (420, 600)
    assert (
        main(
            [
                "import-model",
                str(weights),
                "--arch",
                "torchvision:resnet18",
                "--out",
                str(out),
                "--layers",
                "network.nope",
            ]
        )
        == 2
    )


def test_an_imported_classifier_drives_patho_gan_its_report_and_the_synthesis_view(tmp_path, make_fundus):
    """fundus-train gan --classifier (L_patho through the imported network's traced layers), gan-report
    --classifier, and the maps the Synthesize view draws, all on an imported ResNet-18."""
    import csv

    from PIL import Image

    from fundus_viewer.cli.main import main as viewer_main
    from fundus_viewer.core.gan.checkpoint import load_generator
    from fundus_viewer.core.gan.compare import compare_photo
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.vessels import load_vessel_segmenter
    from trainer.gan import main as gan_main

    weights, _ = state_dict_file(tmp_path, "resnet18")
    model_path = tmp_path / "ours.safetensors"
    assert (
        viewer_main(
            [
                "import-model",
                str(weights),
                "--arch",
                "torchvision:resnet18",
                "--out",
                str(model_path),
                "--input-size",
                "64",
                "--crop",
                "disc",
            ]
        )
        == 0
    )
    for label, count in (("glaucoma", 6), ("normal", 2)):  # the GAN learns from the glaucoma photos
        (tmp_path / "data" / label).mkdir(parents=True)
        for k in range(count):
            photo = make_fundus(
                height=160, width=200, centre=(100, 80), radius=75, spot=(110, 80), spot_radius=6, seed=k
            )
            Image.fromarray(photo).save(tmp_path / "data" / label / f"{label[0]}{k}.png")
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert (
        gan_main(
            [
                "--data",
                str(tmp_path / "data"),
                "--out",
                str(out),
                "--classifier",
                str(model_path),
                "--vessel-cache",
                str(cache),
                "--steps",
                "2",
                "--size",
                "32",
                "--gen-base",
                "4",
                "--gen-depth",
                "2",
                "--batch-size",
                "2",
                "--test-fraction",
                "0.34",
                "--workers",
                "0",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert len(rows) == 2 and all(float(r["g_patho"]) > 0 for r in rows)  # the imported maps entered the loss
    generator = load_generator(out / "generator.safetensors")
    assert generator.spec.training["classifier"] == str(model_path)
    report = tmp_path / "report.json"
    assert (
        viewer_main(
            [
                "gan-report",
                "--data",
                str(tmp_path / "data"),
                "--models",
                str(out / "generator.safetensors"),
                "--classifier",
                str(model_path),
                "--vessel-cache",
                str(cache),
                "--samples",
                "1",
                "--json",
                str(report),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    import json

    figures = json.loads(report.read_text())["generators"][0]
    assert figures["heat_l1_mean"] > 0 and 0 <= figures["p_glaucoma"] <= 1
    classifier = load_classifier(model_path)
    comparison = compare_photo(
        classifier,
        load_vessel_segmenter(),
        np.asarray(Image.open(tmp_path / "data" / "glaucoma" / "g0.png")),
        {"ours": generator},
        0,
        "g0.png",
    )
    assert [r.name for r in comparison.renditions] == ["real", "ours"] and comparison.renditions[0].rl.shape == (
        8,
        8,
    )  # layer2's grid at 64 px


def test_what_cannot_be_built_here_is_named(tmp_path, monkeypatch, capsys):
    """A detection network is not a classifier; a timm checkpoint without timm installed is a message,
    not a traceback; a network with nothing to visualise is refused before training reads a photo."""
    import sys

    from fundus_viewer.core.models.architectures import check_architecture
    from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier
    from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier
    from trainer.classifier import main as train_main

    with pytest.raises(ValueError, match="fasterrcnn_resnet50_fpn'.*not a classification network"):
        check_architecture("torchvision:fasterrcnn_resnet50_fpn")
    model = GlaucomaClassifier(ClassifierSpec(arch="torchvision:resnet18", input_size=64))
    model.spec.arch = "timm:resnet18"  # as if imported where timm was installed
    path = save_classifier(model, tmp_path / "timm-model.safetensors")
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm now fails
    with pytest.raises(ValueError, match=r'timm is not installed \(pip install "\.\[timm\]"\)'):
        check_architecture("timm:resnet18")
    with pytest.raises(CheckpointError, match="timm-model.safetensors: timm:resnet18: timm is not installed"):
        load_classifier(path)
    from tests.test_trainer_classifier import make_set

    (tmp_path / "photos").mkdir()
    assert (
        train_main(
            [
                "--data",
                str(make_set(tmp_path / "photos", per_class=4)),
                "--out",
                str(tmp_path / "run"),
                "--arch",
                "torchvision:vit_b_16",
                "--workers",
                "0",
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "--arch torchvision:vit_b_16 at 224 px cannot be visualised" in error and "no spatial feature maps" in error
    assert "preparing" not in error  # no photo was decoded
