"""Shared fixtures: synthetic photos with known geometry and small models made here (never a
checkpoint pretending to be trained)."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qt_threads import no_dangling_threads  # noqa: E402, F401 - a fixture, tested with pytester

pytest_plugins = ["pytester"]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    if (SHARED_DATA / "MANIFEST.csv").exists():
        return
    skip = pytest.mark.skip(reason=f"needs the shared fundus data at {SHARED_DATA}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


def synthetic_fundus(
    height: int = 420,
    width: int = 600,
    centre: tuple[int, int] = (250, 230),
    radius: int = 190,
    spot: tuple[int, int] | None = None,
    spot_radius: int = 12,
    seed: int = 0,
) -> np.ndarray:
    """A non-square photo with an off-centre circular field of view on black, optional bright spot.

    ``centre`` and ``spot`` are (x, y) in original pixels.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    inside = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2
    rgb = np.zeros((height, width, 3), dtype=np.float32)
    tissue = np.array([150, 70, 30], dtype=np.float32)
    rgb[inside] = tissue + rng.normal(0, 4, size=(int(inside.sum()), 3))
    if spot is not None:
        blob = (xx - spot[0]) ** 2 + (yy - spot[1]) ** 2 <= spot_radius**2
        rgb[blob] = 255
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.fixture
def make_fundus():
    return synthetic_fundus


@pytest.fixture(scope="session")
def tiny_alexnet():
    """The paper's AlexNet-style architecture at 1/8 width, seeded random weights."""
    import torch

    from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier

    torch.manual_seed(0)
    model = GlaucomaClassifier(
        ClassifierSpec(arch="alexnet", input_size=227, arch_options={"width": 0.125, "hidden": 32})
    )
    return model.eval().requires_grad_(False)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_alexnet, tmp_path_factory) -> Path:
    from fundus_viewer.core.models.checkpoint import save_classifier

    return save_classifier(tiny_alexnet, tmp_path_factory.mktemp("models") / "tiny.safetensors")


class SpotNetwork:
    """Builds a hand-weighted net whose only feature map lights up on bright spots.

    conv (box average, threshold bias) -> ReLU -> GAP -> linear with a positive glaucoma weight, so
    w > 0 and the pathology map is that feature map: its peak is the spot.
    """

    @staticmethod
    def build(kernel: int = 7, level: float = 0.8):
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(
                    OrderedDict(
                        [
                            ("conv", nn.Conv2d(3, 2, kernel, padding=kernel // 2)),
                            ("relu", nn.ReLU()),
                        ]
                    )
                )
                self.pool = nn.AdaptiveAvgPool2d(1)
                self.fc = nn.Linear(2, 2)

            def forward(self, x):
                return self.fc(torch.flatten(self.pool(self.features(x)), 1))

        net = Net()
        with torch.no_grad():
            net.features.conv.weight.fill_(1.0 / (3 * kernel * kernel))
            net.features.conv.weight[1].mul_(0.5)  # a second, dimmer copy: two maps, both on the spot
            net.features.conv.bias.fill_(-level)
            net.features.conv.bias[1] = -level / 2
            net.fc.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
            net.fc.bias.zero_()
        return net


@pytest.fixture(scope="session")
def spot_model():
    from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier

    spec = ClassifierSpec(arch="alexnet", input_size=160, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    model = GlaucomaClassifier(spec, network=SpotNetwork.build())
    return model.eval().requires_grad_(False)


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch):
    """QSettings in a temporary INI file, never the user's."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QCoreApplication.setOrganizationName("FundusViewerTests")
    QCoreApplication.setApplicationName("fundus-viewer-tests")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the remembered results
    return tmp_path / "settings"


@pytest.fixture(scope="session")
def tiny_vessels(tmp_path_factory):
    """A small random vessel segmenter working at 128 pixels: the bundled one costs seconds a photo."""
    from fundus_viewer.core.vessels import VesselSegmenter, VesselSpec, save_vessel_segmenter

    return save_vessel_segmenter(
        VesselSegmenter(VesselSpec(base=4, depth=2, fov_diameter=128)),
        tmp_path_factory.mktemp("vessels") / "v.safetensors",
    )
