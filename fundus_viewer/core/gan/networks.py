"""Patho-GAN's networks, one definition for the laptop-size and the paper-size model.

- Generator G(Y, z): a U-Net (the vessel segmenter's) from a condition Y and a noise code z
  (``noise_channels`` planes, element-wise Gaussian with ``noise_sigma``, the paper's 0.01) to an RGB
  photo in [0, 1] (sigmoid). Y is the vessel map (1 channel, [0, 1]; the paper's), then as the spec
  says the field of view and the disc and cup masks (``conditions``); with the field of view given, the
  photo is black outside it.
- Discriminator D(X, Y): a PatchGAN conditioned on the same Y, as the official code did on the vessel
  map: strided 4 x 4 convolutions with LeakyReLU to a map of real/fake logits, one per overlapping patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from fundus_viewer.core.gan.conditions import condition_channels
from fundus_viewer.core.models.spec import SpecDict
from fundus_viewer.core.models.unet import UNet


@dataclass
class GanSpec(SpecDict):
    size: int = 256  # square images, a multiple of 2 ** gen_depth
    gen_base: int = 16
    gen_depth: int = 4
    noise_channels: int = 1
    noise_sigma: float = 0.01
    disc_base: int = 32
    disc_layers: int = 3
    pathology: str = "both"  # which heat maps L_patho compares: rl, rnfld or both
    lam: float = 1000.0  # L_patho weight; 0 is the paper's baseline
    fov_channel: bool = False  # the field of view as a condition channel (beyond the paper)
    disc_cup: bool = False  # disc and cup masks as condition channels (beyond the paper)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


class Generator(nn.Module):
    def __init__(self, spec: GanSpec):
        super().__init__()
        self.spec = spec
        self.checkpoint_path: str | None = None  # the file it was loaded from (load_generator)
        self.network = UNet(condition_channels(spec) + spec.noise_channels, 3, spec.gen_base, spec.gen_depth)

    def noise(self, condition: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, _, h, w = condition.shape
        z = torch.randn(
            (b, self.spec.noise_channels, h, w),
            generator=generator,
            device="cpu" if generator is not None else condition.device,
        )
        return (z * self.spec.noise_sigma).to(condition.device, condition.dtype)

    def forward(self, condition: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``condition``: B x C x S x S in [0, 1] (``conditions.stack_condition``); ``z``: the noise code
        (drawn when None)."""
        if condition.shape[1] != condition_channels(self.spec):
            raise ValueError(
                f"the generator takes {condition_channels(self.spec)} condition channel(s), not {condition.shape[1]}"
            )
        if z is None:
            z = self.noise(condition)
        photo = torch.sigmoid(self.network(torch.cat([condition, z], dim=1)))
        return photo * condition[:, 1:2] if self.spec.fov_channel else photo


class Discriminator(nn.Module):
    def __init__(self, spec: GanSpec):
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = []
        channels = 3 + condition_channels(spec)  # RGB + the condition
        for i in range(spec.disc_layers):
            out = spec.disc_base * 2**i
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1, bias=i == 0)]
            if i > 0:
                layers += [nn.BatchNorm2d(out)]
            layers += [nn.LeakyReLU(0.2)]
            channels = out
        layers += [nn.Conv2d(channels, 1, 4, padding=1)]
        self.network = nn.Sequential(*layers)

    def forward(self, photo: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.network(torch.cat([photo * 2 - 1, condition * 2 - 1], dim=1))
