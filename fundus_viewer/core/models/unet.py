"""A plain U-Net (Ronneberger et al. 2015): the vessel segmenter, and later Patho-GAN's generator.

``base`` channels at full resolution, doubled at each of ``depth`` downsamplings; batch norm, ReLU,
bilinear upsampling. Any input whose sides are multiples of 2**depth works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, out_channels: int = 1, base: int = 16, depth: int = 3):
        super().__init__()
        self.depth = depth
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [_block(in_channels, widths[0])] + [_block(widths[i], widths[i + 1]) for i in range(depth)]
        )
        self.up = nn.ModuleList([_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for index, block in enumerate(self.down):
            x = block(x if index == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)
