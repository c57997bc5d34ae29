"""Optimisers and learning-rate schedules of the NumPy MLP, with torch's update rules.

`OPTIMIZERS`: name -> class with `step(params, grads, lr)` (torch.optim.SGD, Adam, AdamW);
`SCHEDULES`: name -> lr of epoch e (torch's StepLR / CosineAnnealingLR). They mirror
`maskflow.training.optim` for the numpy arrays the NumPy MLP trains.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np


class SGD:
    """torch.optim.SGD: v = mu * v + g; step along v (or g + mu * v with Nesterov)."""

    def __init__(self, params: dict, spec: dict):
        self.momentum, self.nesterov = spec.get("momentum", 0.0), spec.get("nesterov", False)
        self.weight_decay = spec.get("weight_decay", 0.0)
        self.velocity = {name: np.zeros_like(p) for name, p in params.items()}

    def step(self, params: dict, grads: dict, lr: float) -> None:
        for name, p in params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            if self.momentum:
                v = self.velocity[name]
                v *= self.momentum
                v += g
                g = g + self.momentum * v if self.nesterov else v
            p -= lr * g


class Adam:
    """torch.optim.Adam (coupled weight decay) and, with `decoupled`, torch.optim.AdamW."""

    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, params: dict, spec: dict, decoupled: bool = False):
        self.weight_decay, self.decoupled = spec.get("weight_decay", 0.0), decoupled
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, params: dict, grads: dict, lr: float) -> None:
        self.t += 1
        correction1, correction2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay and self.decoupled:
                p *= 1 - lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * p
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)


OPTIMIZERS: dict[str, Callable] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": functools.partial(Adam, decoupled=True),
}

# learning rate of epoch e (1-based): name -> f(lr, e, epochs, schedule); torch's StepLR / CosineAnnealingLR
SCHEDULES: dict[str, Callable] = {
    "none": lambda lr, epoch, epochs, s: lr,
    "step": lambda lr, epoch, epochs, s: lr * s.get("factor", 0.1) ** ((epoch - 1) // s.get("every", 10)),
    "cosine": lambda lr, epoch, epochs, s: lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs)),
}
