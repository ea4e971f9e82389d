"""Augmented views for contrastive training, made for scientific images, on whole batches.

What a view may change is what the vectors learn to ignore, so every change is a parameter and
the defaults keep what a view cannot give back: turns, flips and arbitrary rotation are off unless
the user says orientation means nothing (cells, scattering patterns). In order:

1. geometry, one affine resampling per image (``grid_sample``, zeros outside: a dark background):
   the eight symmetries of the square, an arbitrary angle, a random resized crop (area share from
   ``crop_scale_min`` to 1, aspect 3/4 to 4/3, anywhere inside the frame);
2. Gaussian blur on half the views (separable, one grouped convolution for the whole batch);
3. intensity scale, then gamma;
4. Poisson noise (counts), then Gaussian noise.

Every draw comes from (seed, epoch, view, item) or, for per-pixel noise, (seed, epoch, view,
step): a run repeats exactly on the same device, with or without loader worker processes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

DRAWS = 12  # uniform numbers per item and view


class Views:
    def __init__(self, params: dict[str, Any], count: int) -> None:
        self.flips = bool(params.get("augment_flips", False))
        self.rotation = bool(params.get("augment_rotation", False))
        self.crop_min = float(params.get("crop_scale_min", 1.0))
        self.scale = float(params.get("intensity_scale", 0.0))
        self.gamma = float(params.get("gamma", 0.0))
        self.gaussian = float(params.get("noise_gaussian", 0.0))
        self.poisson = float(params.get("noise_poisson", 0.0))
        self.blur = float(params.get("blur_sigma", 0.0))
        self.seed = int(params.get("seed", 0))
        self.count = count
        self.epoch = 0
        self.draws: dict[int, torch.Tensor] = {}
        self.set_epoch(0)

    @property
    def geometric(self) -> bool:
        return self.flips or self.rotation or self.crop_min < 1.0

    def set_epoch(self, epoch: int) -> None:
        """Draw every item's changes of both views for ``epoch`` (0: the fixed validation views)."""
        self.epoch = epoch
        for view in (0, 1):
            rng = np.random.default_rng((self.seed, epoch, view))
            self.draws[view] = torch.from_numpy(rng.random((self.count, DRAWS), dtype=np.float32))

    def __call__(self, images: torch.Tensor, rows: torch.Tensor, view: int, step: int) -> torch.Tensor:
        """View ``view`` (0 or 1) of a (batch, 1, S, S) batch of image rows ``rows``."""
        u = self.draws[view][rows.cpu()].to(images.device)
        out = images.float()
        if self.geometric:
            out = self._geometry(out, u)
        if self.blur > 0:
            out = self._blur(out, u)
        if self.scale > 0:
            out = out * (1.0 + self.scale * (2 * u[:, 7] - 1)).view(-1, 1, 1, 1)
        if self.gamma > 0:
            power = ((1.0 + self.gamma) ** (2 * u[:, 8] - 1)).view(-1, 1, 1, 1)
            out = out.clamp(min=0.0) ** power
        if self.poisson > 0 or self.gaussian > 0:
            generator = torch.Generator(device=out.device)
            generator.manual_seed(
                (((self.seed * 1_000_003 + self.epoch) * 100_003 + step) * 2 + view) % 2**63
            )
            if self.poisson > 0:
                out = torch.poisson(out.clamp(min=0.0) * self.poisson, generator=generator) / self.poisson
            if self.gaussian > 0:
                sigma = (self.gaussian * u[:, 9]).view(-1, 1, 1, 1)
                noise = torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
                out = out + sigma * noise
        return out

    def _geometry(self, images: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        n = len(images)
        angle = torch.zeros(n, device=images.device)
        if self.flips:
            angle = angle + torch.floor(u[:, 0] * 4) * (math.pi / 2)
        if self.rotation:
            angle = angle + u[:, 2] * (2 * math.pi)
        flip = torch.where(self.flips & (u[:, 1] < 0.5), -1.0, 1.0)
        area = self.crop_min + (1.0 - self.crop_min) * u[:, 3]
        aspect = (
            torch.exp(math.log(4 / 3) * (2 * u[:, 4] - 1)) if self.crop_min < 1 else torch.ones_like(area)
        )
        width = torch.sqrt(area * aspect).clamp(max=1.0)
        height = torch.sqrt(area / aspect).clamp(max=1.0)
        shift_x = (1.0 - width) * (2 * u[:, 5] - 1)
        shift_y = (1.0 - height) * (2 * u[:, 6] - 1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # input point = R(angle) @ (diag(flip * width, height) @ output point + shift)
        theta = torch.stack(
            [
                torch.stack([cos * flip * width, -sin * height, cos * shift_x - sin * shift_y], dim=1),
                torch.stack([sin * flip * width, cos * height, sin * shift_x + cos * shift_y], dim=1),
            ],
            dim=1,
        )
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _blur(self, images: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        radius = max(1, math.ceil(3 * self.blur))
        sigma = torch.where(u[:, 10] < 0.5, self.blur * u[:, 11], 0.0).clamp(min=1e-3)
        offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
        kernel = torch.exp(-(offsets[None, :] ** 2) / (2 * sigma[:, None] ** 2))
        kernel = kernel / kernel.sum(dim=1, keepdim=True)
        flat = images.reshape(1, n, h, w)
        mode = "reflect" if radius < min(h, w) else "replicate"
        flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode=mode), kernel.view(n, 1, 1, -1), groups=n)
        flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode=mode), kernel.view(n, 1, -1, 1), groups=n)
        return flat.reshape(n, 1, h, w)
