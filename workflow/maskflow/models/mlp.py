"""`mlp`: a fully connected network on the flattened crop.

    arch: {type: mlp, hidden: [256, 128], activation: relu, dropout: 0.2, batch_norm: true, bottleneck: 2}

`bottleneck: d` adds a linear layer of d units (no activation, so no unit can die) before the
classifier; `features(x)` then returns those d values, which the latent figure plots.
"""

from __future__ import annotations

from torch import nn

from maskflow.models.layers import Classifier, dense_layers


def build(arch: dict, channels: int, size: int, num_classes: int) -> Classifier:
    layers, width = dense_layers(
        arch["hidden"], channels * size * size, arch["activation"], arch["dropout"], arch["batch_norm"]
    )
    if arch["bottleneck"]:
        layers.append(nn.Linear(width, arch["bottleneck"]))
        width = arch["bottleneck"]
    return Classifier(nn.Sequential(nn.Flatten(), *layers), nn.Linear(width, num_classes))
