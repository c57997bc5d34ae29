"""Building blocks shared by the architectures: activations by name and the `Classifier`
shape every model has (a trunk giving penultimate features, then one linear classifier)."""

from __future__ import annotations

import torch
from torch import nn

# name -> factory. rrelu draws a random slope per element in training mode from torch's
# global generator, which `torch.manual_seed` seeds and resume state saves: it is reproducible.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "rrelu": nn.RReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


class Classifier(nn.Module):
    """`trunk` maps inputs to penultimate features, `classifier` features to logits."""

    def __init__(self, trunk: nn.Module, classifier: nn.Module):
        super().__init__()
        self.trunk = trunk
        self.classifier = classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.trunk(x))


def dense_layers(widths: list[int], in_features: int, act: str, dropout: float, batch_norm: bool = False):
    """Linear -> [BatchNorm] -> activation -> [Dropout] per width; returns (layers, out width)."""
    layers: list[nn.Module] = []
    for width in widths:
        layers.append(nn.Linear(in_features, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation(act))
        if dropout:
            layers.append(nn.Dropout(dropout))
        in_features = width
    return layers, in_features
