"""Classifier networks: the paper's AlexNet-style net, a torchvision ResNet-18, and any classification
network of torchvision's registry (``torchvision:NAME``) or of timm (``timm:NAME``, where installed),
built empty: no weights are ever downloaded.

Every ReLU is a separate, non-inplace module: Guided Backprop (captum) rewrites ReLU gradients
through module hooks, and the visualiser's hooks must see each activation as it was.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torchvision.models import resnet18

from fundus_viewer.core.models.spec import Between, Limit, OneOf

ARCHITECTURES = ("alexnet", "resnet18")
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]  # as nn.Conv2d takes them

# The layers whose feature maps the pathology-aware visualiser reads by default: the last conv blocks.
DEFAULT_LAYERS = {
    "alexnet": ("features.relu3", "features.relu4", "features.relu5"),
    "resnet18": ("net.layer3", "net.layer4"),
}
# The layer CAM / Grad-CAM reads.
CAM_LAYER = {"alexnet": "features.relu5", "resnet18": "net.layer4"}


class GlaucomaAlexNet(nn.Module):
    """AlexNet-style net of the paper's official code: 227 px, conv1 11x11/4 ... conv5, fc 256, fc 2.

    ``width`` scales every channel count (1.0 = 96/256/384/384/256), so tests can build a tiny one.
    Batch normalisation after each conv makes training from scratch on a few hundred photos stable.

    ``cdr_head``: a small head on the conv5 maps segments the optic disc and cup (trained where expert
    masks exist); their soft area ratio (about the squared cup-to-disc ratio) enters the glaucoma logit
    through a learnt scale and offset. The network then has to represent the cup, the sign clinicians
    read, instead of whatever else separates one data set's photos from another's.
    ``cdr_in_logit=False`` keeps the head as a training task only (its loss shapes conv5, its ratio does
    not enter the logit), so the decision passes through conv5's channels alone and CAM can read it.

    ``head="gap"``: conv5 -> global average pooling -> one linear layer, Zhou et al.'s CAM network, for
    which Grad-CAM at relu5 is the true CAM; ``"fc"``: the paper's pool5 -> fc6 -> fc7.
    """

    def __init__(
        self,
        num_classes: int = 2,
        width: float = 1.0,
        hidden: int = 256,
        dropout: float = 0.5,
        cdr_head: bool = False,
        padding_mode: PaddingMode = "zeros",
        head: str = "fc",
        cdr_in_logit: bool = True,
    ):
        super().__init__()
        # padding_mode "reflect": no artificial dark frame for the convs to detect
        c1, c2, c3, c4, c5 = (max(4, int(round(c * width))) for c in (96, 256, 384, 384, 256))
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv1", nn.Conv2d(3, c1, 11, stride=4)),
                    ("bn1", nn.BatchNorm2d(c1)),
                    ("relu1", nn.ReLU()),
                    ("pool1", nn.MaxPool2d(3, 2)),
                    ("conv2", nn.Conv2d(c1, c2, 5, padding=2, padding_mode=padding_mode)),
                    ("bn2", nn.BatchNorm2d(c2)),
                    ("relu2", nn.ReLU()),
                    ("pool2", nn.MaxPool2d(3, 2)),
                    ("conv3", nn.Conv2d(c2, c3, 3, padding=1, padding_mode=padding_mode)),
                    ("bn3", nn.BatchNorm2d(c3)),
                    ("relu3", nn.ReLU()),
                    ("conv4", nn.Conv2d(c3, c4, 3, padding=1, padding_mode=padding_mode)),
                    ("bn4", nn.BatchNorm2d(c4)),
                    ("relu4", nn.ReLU()),
                    ("conv5", nn.Conv2d(c4, c5, 3, padding=1, padding_mode=padding_mode)),
                    ("bn5", nn.BatchNorm2d(c5)),
                    ("relu5", nn.ReLU()),
                    ("pool5", nn.MaxPool2d(3, 2)),
                ]
            )
        )
        if head not in ("fc", "gap"):
            raise ValueError(f"AlexNet head {head!r}: 'fc' or 'gap'")
        self.head = head
        if head == "gap":
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(
                OrderedDict([("dropout", nn.Dropout(dropout)), ("fc", nn.Linear(c5, num_classes))])
            )
        else:
            # Adaptive pooling keeps the 6 x 6 x c5 input of fc6 at 227 px and lets other sizes run too.
            self.pool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                OrderedDict(
                    [
                        ("dropout6", nn.Dropout(dropout)),
                        ("fc6", nn.Linear(c5 * 36, hidden)),
                        ("relu6", nn.ReLU()),
                        ("dropout7", nn.Dropout(dropout)),
                        ("fc7", nn.Linear(hidden, num_classes)),
                    ]
                )
            )

        self.segmentation = None
        if cdr_head:
            self.segmentation = nn.Sequential(
                OrderedDict(
                    [("conv", nn.Conv2d(c5, 32, 3, padding=1)), ("relu", nn.ReLU()), ("out", nn.Conv2d(32, 2, 1))]
                )
            )
            if cdr_in_logit:
                self.cdr_scale = nn.Parameter(torch.tensor(4.0))
                self.cdr_offset = nn.Parameter(torch.tensor(0.3))
        self.cdr_in_logit = cdr_head and cdr_in_logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.features[:-1](x)  # up to relu5; the slice holds the same modules, so hooks still fire
        pooled = self.pool(maps if self.head == "gap" else self.features.get_submodule("pool5")(maps))
        logits = self.classifier(torch.flatten(pooled, 1))
        if self.segmentation is None or not (self.cdr_in_logit or self.training):
            return logits
        # in training the trainer reads the disc / cup logits with a hook on self.segmentation (kept on
        # no attribute, so no graph outlives its step)
        segmentation = self.segmentation(maps)
        if not self.cdr_in_logit:
            return logits
        disc, cup = torch.sigmoid(segmentation).sum(dim=(-2, -1)).unbind(dim=1)
        ratio = cup / (disc + 1.0)
        shift = self.cdr_scale * (ratio - self.cdr_offset)
        return logits + torch.stack([-shift / 2, shift / 2], dim=1)


@dataclass
class AlexNetOptions:
    """``GlaucomaAlexNet``'s options as a checkpoint's ``arch_options`` may give them (checked with
    ``OPTION_LIMITS`` before the network is built)."""

    width: float = 1.0
    hidden: int = 256
    dropout: float = 0.5
    cdr_head: bool = False
    padding_mode: str = "zeros"
    head: str = "fc"
    cdr_in_logit: bool = True


# the options our own architectures take, with their bounds: width 4 is already 16 times the paper's
# weights (about 1 GB); the torchvision / timm constructors check their own options
OPTIONS = {"alexnet": AlexNetOptions, "resnet18": None}
OPTION_LIMITS: dict[str, Limit] = {
    "width": Between(0.01, 4.0),
    "hidden": Between(1, 16384),
    "dropout": Between(0.0, 1.0),
    "padding_mode": OneOf(("zeros", "reflect", "replicate", "circular")),
    "head": OneOf(("fc", "gap")),
}


class GlaucomaResNet18(nn.Module):
    """torchvision's ResNet-18 (no downloaded weights), with its shared ReLU made non-inplace."""

    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.net = resnet18(weights=None, num_classes=num_classes)
        for module in self.net.modules():
            if isinstance(module, nn.ReLU):
                module.inplace = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def is_external(arch: str) -> bool:
    """A network of another library (``torchvision:NAME``, ``timm:NAME``), whose layers are traced."""
    return arch.startswith(("torchvision:", "timm:"))


def build_network(arch: str, num_classes: int = 2, **options) -> nn.Module:
    if arch == "alexnet":
        return GlaucomaAlexNet(num_classes=num_classes, **options)
    if arch == "resnet18":
        return GlaucomaResNet18(num_classes=num_classes, **options)
    return build_external(arch, num_classes, **options)


def check_architecture(arch: str) -> None:
    """ValueError naming what is wrong with ``arch`` (unknown name, timm not installed); builds nothing."""
    if arch in ARCHITECTURES:
        return
    if not is_external(arch):
        raise ValueError(
            f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}, torchvision:NAME or timm:NAME"
        )
    library, _, name = arch.partition(":")
    if library == "torchvision":
        import torchvision.models
        from torchvision.models import list_models

        if name not in list_models(module=torchvision.models):  # classification only: not detection, video ...
            other = " (it is not a classification network)" if name in list_models() else ""
            raise ValueError(
                f"torchvision has no classification model {name!r}{other}; "
                "see torchvision.models.list_models(module=torchvision.models)"
            )
        return
    try:
        import timm
    except ImportError:
        raise ValueError(f'{arch}: timm is not installed (pip install ".[timm]")') from None
    if not timm.is_model(name):  # also a tagged name such as resnet50.a1_in1k
        raise ValueError(f"timm has no model {name!r}; see timm.list_models()")


def build_external(arch: str, num_classes: int = 2, **options) -> nn.Module:
    """torchvision's or timm's network ``arch`` with random weights, every in-place activation made
    out-of-place (hooks must see each activation as it was, and Guided Backprop rewrites ReLU gradients)."""
    check_architecture(arch)
    library, _, name = arch.partition(":")
    if library == "torchvision":
        from torchvision.models import get_model

        network = get_model(name, weights=None, num_classes=num_classes, **options)
    else:
        import timm

        network = timm.create_model(name, pretrained=False, num_classes=num_classes, **options)
    for module in network.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False
    return network
