"""Batch-wise augmentation of float image tensors, on whatever device the batch is on.

    augment: {hflip: true, vflip: false, rotate: 10, translate: 0.05, brightness: 0.2, contrast: 0.2}

    augmenter = Augmenter(spec, torch.Generator().manual_seed(seed))
    x = augmenter(x)      # x: N x C x H x W floats in [0, 1], before normalisation

Flips are exact (tensor flips); rotation (uniform in +-rotate degrees) and translation (up to
`translate` of the size in each direction) are one `affine_grid` + `grid_sample` per batch
with zeros outside, like torchvision's RandomRotation; brightness multiplies by a factor in
[1 - b, 1 + b] and contrast scales the distance to the image's mean by one in [1 - c, 1 + c].
Random parameters are drawn from a seeded CPU generator and then moved to the batch's device:
the same seed gives the same augmentations on CPU and GPU, and resume restores them exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(generator: torch.Generator, n: int, half_width: float) -> torch.Tensor:
    return (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * half_width


class Augmenter:
    def __init__(self, spec: dict, generator: torch.Generator):
        self.spec = {
            key: spec.get(key, 0) for key in ("hflip", "vflip", "rotate", "translate", "brightness", "contrast")
        }
        self.generator = generator

    @property
    def enabled(self) -> bool:
        return any(self.spec.values())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # Fixed order of operations and draws: changing it changes every seeded run.
        return self.after_flips(self.flips(x))

    def flips(self, x: torch.Tensor) -> torch.Tensor:
        """The flips alone, on a batch of any dtype. They move pixels without changing them, so
        `train_one_epoch` flips the uint8 batch before the float conversion (a quarter of the
        bytes to move), with the same draws and the same result as flipping the floats."""
        if self.spec["hflip"]:
            x = self._flip(x, dim=3)
        if self.spec["vflip"]:
            x = self._flip(x, dim=2)
        return x

    def after_flips(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the flips, on floats in [0, 1]."""
        spec = self.spec
        if spec["rotate"] or spec["translate"]:
            x = self._affine(x)
        if spec["brightness"]:
            x = x * self._factors(len(x), spec["brightness"], x)
        if spec["contrast"]:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * self._factors(len(x), spec["contrast"], x) + mean
        if spec["brightness"] or spec["contrast"]:
            x = x.clamp(0.0, 1.0)
        return x

    def _flip(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        chosen = torch.rand(len(x), generator=self.generator) < 0.5
        return torch.where(chosen.to(x.device).view(-1, 1, 1, 1), x.flip(dim), x)

    def _factors(self, n: int, half_width: float, like: torch.Tensor) -> torch.Tensor:
        return (1 + _uniform(self.generator, n, half_width)).to(like.device, like.dtype).view(-1, 1, 1, 1)

    def _affine(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        angle = _uniform(self.generator, n, math.radians(self.spec["rotate"]))
        # affine_grid works in [-1, 1] coordinates: a shift of `translate` of the size is 2x that.
        shift = _uniform(self.generator, 2 * n, 2 * self.spec["translate"]).view(n, 2)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
