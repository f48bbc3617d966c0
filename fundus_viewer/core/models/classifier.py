"""A glaucoma classifier: a network plus everything needed to feed it and read it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property

import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.models.architectures import (
    CAM_LAYER,
    DEFAULT_LAYERS,
    OPTION_LIMITS,
    OPTIONS,
    build_network,
    check_architecture,
    is_external,
)
from fundus_viewer.core.models.spec import Between, Limit, OneOf, checked_fields

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ClassifierSpec:
    """What a checkpoint says about its model (stored as JSON beside the weights)."""

    arch: str = "alexnet"
    input_size: int = 227
    resize: int | None = None  # photo square resized to this, then centre-cropped to input_size
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    class_names: tuple[str, ...] = ("normal", "glaucoma")
    glaucoma_index: int = 1
    crop: str = "fov"  # what the model sees: "fov", "disc" (optic-disc-centred) or "none"
    disc_diameters: float = 2.5  # width of a disc crop, in disc diameters
    # "local-contrast": subtract a Gaussian-blurred copy (sigma = 1/30 of the input) before the
    # network, as in Graham's Kaggle preprocessing, so colour casts and exposure that differ between
    # cameras and data sets carry less weight than local structure such as the cup.
    preprocess: str = "none"
    # Black out everything outside the input's inscribed circle, in training and use alike: every photo
    # then has the same border whatever its rotation, so the border cannot carry a shortcut.
    circle: bool = False
    # the layers to visualise by default, where the user chose them (an imported network); else each
    # architecture's own (ours) or the traced stages (torchvision's, timm's)
    layers: tuple[str, ...] = ()
    # temperature and decision threshold fitted on validation data (core.calibration); empty: P >= 0.5
    calibration: dict = field(default_factory=dict)
    # the out-of-distribution flag's rule (core.ood.OodRule); its feature bank is stored beside the weights
    ood: dict = field(default_factory=dict)
    arch_options: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # data, split, command, time ...
    metrics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "classifier spec") -> ClassifierSpec:
        """Every field checked (type, ``LIMITS``, and against each other): CheckpointError naming ``where``
        (``FILE: spec``) and the field. Builds nothing and imports no optional library but timm's check."""
        from fundus_viewer.core.calibration import Calibration
        from fundus_viewer.core.ood import OodRule

        clean = checked_fields(cls, data, where, LIMITS)
        spec = cls(**clean)
        if spec.resize is not None and spec.resize < spec.input_size:
            raise CheckpointError(
                f"{where} field 'resize' is {spec.resize}; it must be at least input_size ({spec.input_size}) or null"
            )
        if len(set(spec.class_names)) != len(spec.class_names) or not 2 <= len(spec.class_names) <= 1000:
            raise CheckpointError(
                f"{where} field 'class_names' is {list(spec.class_names)!r}; it must be 2 to 1000 distinct names"
            )
        if not 0 <= spec.glaucoma_index < len(spec.class_names):
            raise CheckpointError(
                f"{where} field 'glaucoma_index' is {spec.glaucoma_index}; it must index class_names "
                f"(0 to {len(spec.class_names) - 1})"
            )
        checked_fields(Calibration, spec.calibration, f"{where} field 'calibration':", CALIBRATION_LIMITS)
        checked_fields(OodRule, spec.ood, f"{where} field 'ood':", OOD_LIMITS)
        if not spec.arch.startswith("timm:"):  # timm's names are checked where timm is: a card needs none
            try:
                check_architecture(spec.arch)
            except ValueError as exc:
                raise CheckpointError(f"{where} field 'arch': {exc}") from None
        check_arch_options(spec.arch, spec.arch_options, f"{where} field 'arch_options'")
        return spec


# What a checkpoint may say, and why these bounds: an input beyond 2048 px costs gigabytes in every
# heat-map pass (12000 px: 2.4 GB) and no fundus network is trained that large; under 16 px no conv
# stack has anything to see. mean / std are of RGB in [0, 1]; a std near 0 divides by it (NaN calls).
LIMITS: dict[str, Limit] = {
    "input_size": Between(16, 2048),
    "resize": Between(16, 4096),
    "mean": Between(-1.0, 2.0),
    "std": Between(1e-3, 10.0),
    "crop": OneOf(("fov", "disc", "none")),
    "disc_diameters": Between(0.5, 20.0),  # 2.5 by default; wider than 20 is more than the photo
    "preprocess": OneOf(("none", "local-contrast")),
}
CALIBRATION_LIMITS: dict[str, Limit] = {"temperature": Between(1e-3, 1e3), "threshold": Between(0.0, 1.0)}
OOD_LIMITS: dict[str, Limit] = {
    "k": Between(1, 100_000),
    "threshold": Between(0.0, math.inf),
    "percentile": Between(0, 100),
}


def check_arch_options(arch: str, options: dict, where: str) -> None:
    """Our own architectures' options by name, type and bounds; another library's are its own to check
    (a wrong one is a TypeError when the network is built, which the loader reports)."""
    if arch not in OPTIONS:
        return
    takes = OPTIONS[arch]
    known = set(takes.__dataclass_fields__) if takes is not None else set()
    unknown = sorted(set(options) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise CheckpointError(f"{where}: {arch} takes no option {', '.join(unknown)} (it takes {allowed})")
    if takes is not None:
        checked_fields(takes, options, f"{where}:", OPTION_LIMITS)


def inscribed_circle(size: int) -> torch.Tensor:
    """1 x 1 x size x size: 1 inside the circle inscribed in the square, 0 outside (pixel centres)."""
    centre = (size - 1) / 2
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij"
    )
    return (((yy - centre) ** 2 + (xx - centre) ** 2) <= (size / 2) ** 2).float().view(1, 1, size, size)


def local_contrast(x: torch.Tensor) -> torch.Tensor:
    """4 * (x - blur(x)) + 0.5, clamped to [0, 1]: differentiable, so the GAN's loss passes through it."""
    sigma = max(1.0, x.shape[-1] / 30.0)
    kernel = int(2 * round(3 * sigma) + 1)
    blurred = gaussian_blur(x, [kernel, kernel], [sigma, sigma])
    return (4.0 * (x - blurred) + 0.5).clamp(0.0, 1.0)


class GlaucomaClassifier(nn.Module):
    """Takes RGB in [0, 1] (B x 3 x S x S), normalises inside, returns pre-softmax logits.

    Normalising inside keeps every caller (visualiser, SmoothGrad noise, the GAN's generator output)
    in one colour space.
    """

    # buffers registered in __init__ (register_buffer hides them from the type checker)
    mean: torch.Tensor
    std: torch.Tensor
    circle: torch.Tensor
    checkpoint_path: str  # the file it was loaded from or written to; unset on a model built in memory

    def __init__(self, spec: ClassifierSpec, network: nn.Module | None = None):
        super().__init__()
        self.spec = spec
        self.network = (
            network if network is not None else build_network(spec.arch, len(spec.class_names), **spec.arch_options)
        )
        self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("circle", inscribed_circle(spec.input_size), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.circle:
            x = x * (self.circle if x.shape[-1] == self.circle.shape[-1] else inscribed_circle(x.shape[-1]).to(x))
        if self.spec.preprocess == "local-contrast":
            x = local_contrast(x)
        return self.network((x - self.mean) / self.std)

    @property
    def glaucoma_index(self) -> int:
        return self.spec.glaucoma_index

    @property
    def calibration(self):
        from fundus_viewer.core.calibration import Calibration

        return Calibration.from_dict(self.spec.calibration)

    def glaucoma_probability(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated P(glaucoma) of logits (... x classes): softmax(logits / T), the one place it is made."""
        return torch.softmax(logits.float() / self.calibration.temperature, dim=-1)[..., self.glaucoma_index]

    # N x D features of the training photos (core.ood), where the checkpoint has them
    ood_bank: torch.Tensor | None = None

    def ood_scores(self, features: torch.Tensor | None):
        """``features``: N x D (``core.ood.features_of``, or what ``pooled_features`` recorded; None when
        it recorded nothing)."""
        """Per photo, how unlike the training photos its CAM-layer features are; None without a bank."""
        from fundus_viewer.core.ood import OodRule, score

        rule = OodRule.from_dict(self.spec.ood)
        if rule is None or self.ood_bank is None or features is None:
            return None
        return score(self.ood_bank, rule, features)

    def calls_glaucoma(self, probability: float) -> bool:
        """The model's own call: its calibrated threshold (0.5 where it has none)."""
        return probability >= self.calibration.threshold

    @cached_property
    def traced(self):
        """The network's stages found by one forward pass (``core.models.tracing``)."""
        from fundus_viewer.core.models.tracing import trace_layers

        return trace_layers(self.network, self.spec.input_size, prefix="network.")

    @property
    def default_layers(self) -> tuple[str, ...]:
        if self.spec.layers:
            return tuple(self.spec.layers)
        if is_external(self.spec.arch):
            return self.traced.default
        return tuple("network." + name for name in DEFAULT_LAYERS[self.spec.arch])

    @property
    def cam_layer(self) -> str:
        if is_external(self.spec.arch):
            return self.traced.cam
        return "network." + CAM_LAYER[self.spec.arch]

    @cached_property
    def cam_is_true_cam(self) -> bool:
        """Grad-CAM is Zhou et al.'s CAM only where the head is GAP + linear: measured on the network."""
        from fundus_viewer.core.models.tracing import head_is_gap_linear

        return head_is_gap_linear(self, self.cam_layer, self.spec.input_size, self.glaucoma_index)

    def conv_layer_names(self) -> list[str]:
        """Layers a user may pick for the visualiser: every ReLU / residual stage with spatial maps."""
        if self.spec.arch == "alexnet":
            return [f"network.features.relu{i}" for i in range(1, 6)]
        if self.spec.arch == "resnet18":
            return [f"network.net.layer{i}" for i in range(1, 5)]
        return list(dict.fromkeys(self.traced.stages + tuple(self.spec.layers)))
