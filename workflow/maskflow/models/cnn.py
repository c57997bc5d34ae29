"""`cnn`: convolution blocks, then a fully connected head.

    arch:
      type: cnn
      blocks:                                  # each: conv -> [batch norm] -> activation -> [max pool] -> [dropout]
        - {channels: 16, kernel: 3, pool: 2, batch_norm: true}
        - {channels: 32, kernel: 5, stride: 2, padding: 2, activation: leaky_relu, dropout: 0.1}
      head: [64]                               # hidden fully connected widths
      activation: relu                         # default for blocks and head (relu, leaky_relu, rrelu, tanh, sigmoid)
      dropout: 0.3                             # after each head layer

The feature-map size is computed per block, so a stack that shrinks a small crop to nothing
is reported with the block and sizes instead of a shape error deep inside torch.
"""

from __future__ import annotations

from torch import nn

from maskflow.errors import ConfigError
from maskflow.models.cnn_shapes import output_size
from maskflow.models.layers import Classifier, activation, dense_layers


def conv_block(in_channels: int, block: dict) -> list[nn.Module]:
    # Batch norm follows the conv, so the conv's bias would be redundant.
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels,
            block["channels"],
            block["kernel"],
            stride=block["stride"],
            padding=block["padding"],
            bias=not block["batch_norm"],
        )
    ]
    if block["batch_norm"]:
        layers.append(nn.BatchNorm2d(block["channels"]))
    layers.append(activation(block["activation"]))
    if block["pool"]:
        layers.append(nn.MaxPool2d(block["pool"]))
    if block["dropout"]:
        layers.append(nn.Dropout(block["dropout"]))
    return layers


def build(arch: dict, channels: int, size: int, num_classes: int) -> Classifier:
    layers: list[nn.Module] = []
    in_size = size
    for i, block in enumerate(arch["blocks"]):
        out = output_size(in_size, block)
        if out < 1:
            raise ConfigError(
                f"arch.blocks[{i}]: the {in_size}x{in_size} feature map shrinks to nothing "
                f"(input crops are {size}x{size}); use fewer blocks, smaller kernels, strides or pools"
            )
        layers += conv_block(channels, block)
        channels, in_size = block["channels"], out
    head, width = dense_layers(arch["head"], channels * in_size * in_size, arch["activation"], arch["dropout"])
    return Classifier(nn.Sequential(*layers, nn.Flatten(), *head), nn.Linear(width, num_classes))
