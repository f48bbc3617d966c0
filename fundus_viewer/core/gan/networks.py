"""Patho-GAN's networks, one definition for the laptop-size and the paper-size model.

- Generator G(Y, z): a U-Net (the vessel segmenter's) from a vessel map Y (1 channel, [0, 1]) and a
  noise code z (``noise_channels`` planes, element-wise Gaussian with ``noise_sigma``, the paper's 0.01)
  to an RGB photo in [0, 1] (sigmoid).
- Discriminator D(X, Y): a PatchGAN conditioned on the vessel map, as the official code did: strided
  4 x 4 convolutions with LeakyReLU to a map of real/fake logits, one per overlapping patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

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
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


class Generator(nn.Module):
    def __init__(self, spec: GanSpec):
        super().__init__()
        self.spec = spec
        self.network = UNet(1 + spec.noise_channels, 3, spec.gen_base, spec.gen_depth)

    def noise(self, vessels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, _, h, w = vessels.shape
        z = torch.randn((b, self.spec.noise_channels, h, w), generator=generator, device="cpu" if generator is not None else vessels.device)
        return (z * self.spec.noise_sigma).to(vessels.device, vessels.dtype)

    def forward(self, vessels: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``vessels``: B x 1 x S x S in [0, 1]; ``z``: the noise code (drawn when None)."""
        if z is None:
            z = self.noise(vessels)
        return torch.sigmoid(self.network(torch.cat([vessels, z], dim=1)))


class Discriminator(nn.Module):
    def __init__(self, spec: GanSpec):
        super().__init__()
        self.spec = spec
        layers, channels = [], 4  # RGB + vessel map
        for i in range(spec.disc_layers):
            out = spec.disc_base * 2**i
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1, bias=i == 0)]
            if i > 0:
                layers += [nn.BatchNorm2d(out)]
            layers += [nn.LeakyReLU(0.2)]
            channels = out
        layers += [nn.Conv2d(channels, 1, 4, padding=1)]
        self.network = nn.Sequential(*layers)

    def forward(self, photo: torch.Tensor, vessels: torch.Tensor) -> torch.Tensor:
        return self.network(torch.cat([photo * 2 - 1, vessels * 2 - 1], dim=1))
