"""The convolutional autoencoder network: B, 2B, ..., 2^(d-1)B channels down, a linear bottleneck, and back.

Each encoder level is a stride-2 3x3 convolution (resolution ceil(s/2)); the decoder mirrors it with
stride-2 transposed convolutions whose output padding restores each level's exact size, so any
M x N (odd, non-square) comes back as M x N. Outputs pass a sigmoid: inputs are scaled to [0, 1].
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from backend.algorithms.autoencoder import level_sizes


@dataclass(frozen=True)
class Architecture:
    height: int
    width: int
    base_channels: int
    depth: int
    latent_size: int
    in_channels: int = 1

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Architecture:
        return cls(
            height=params["image_height"],
            width=params["image_width"],
            base_channels=params["base_channels"],
            depth=params["depth"],
            latent_size=params["latent_size"],
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def channels(self) -> list[int]:
        return [self.in_channels] + [self.base_channels * 2**i for i in range(self.depth)]


class ConvAutoencoder(nn.Module):
    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        channels = arch.channels
        heights, widths = level_sizes(arch.height, arch.depth), level_sizes(arch.width, arch.depth)
        self.bottom = (channels[-1], heights[-1], widths[-1])
        flat = channels[-1] * heights[-1] * widths[-1]

        encoder: list[nn.Module] = []
        for cin, cout in itertools.pairwise(channels):
            encoder += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(flat, arch.latent_size))

        self.expand = nn.Sequential(nn.Linear(arch.latent_size, flat), nn.ReLU(inplace=True))
        decoder: list[nn.Module] = []
        for level in range(arch.depth, 0, -1):
            # (s - 1) * 2 - 2 + 3 + pad == target size of the level above
            pad_h = heights[level - 1] - (2 * heights[level] - 1)
            pad_w = widths[level - 1] - (2 * widths[level] - 1)
            decoder.append(
                nn.ConvTranspose2d(
                    channels[level],
                    channels[level - 1],
                    3,
                    stride=2,
                    padding=1,
                    output_padding=(pad_h, pad_w),
                )
            )
            decoder.append(nn.ReLU(inplace=True) if level > 1 else nn.Sigmoid())
        self.decoder = nn.Sequential(*decoder)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(batch, 1, M, N) -> (batch, L): the latent vectors."""
        return self.encoder(images)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.expand(codes).view(-1, *self.bottom))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))


def build(arch: Architecture, seed: int) -> ConvAutoencoder:
    """The network with weights drawn from ``seed`` (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ConvAutoencoder(arch)
