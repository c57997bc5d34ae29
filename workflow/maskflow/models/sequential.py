"""`sequential`: any network written as a list of layers, in the order the user's code has them.

    arch:
      type: sequential
      layers:
        - {type: conv2d, channels: 32, kernel: 5, padding: 2}     # stride 1, bias true by default
        - {type: leaky_relu, slope: 0.05}
        - {type: batch_norm}                                      # 2d on maps, 1d on vectors
        - {type: max_pool, kernel: 2}
        - {type: flatten}
        - {type: linear, units: 256}
        - {type: relu}

Layer types and keys: maskflow.models.sequential_shapes.LAYERS. maskflow appends the final
linear layer to the number of classes, so `features(x)` is the last listed layer's output (the
latent figure plots it). Shapes are inferred without torch when the config is resolved; here
they give each layer its input width.
"""

from __future__ import annotations

from torch import nn

from maskflow.models.layers import Classifier
from maskflow.models.sequential_shapes import infer_shapes


class GlobalMeanPool(nn.Module):
    """Mean over the spatial axes -> a flat vector (AdaptiveAvgPool2d's CUDA backward is not
    deterministic, see maskflow.models.resnet)."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


def _pool_args(layer: dict) -> dict:
    return {"kernel_size": layer["kernel"], "stride": layer["stride"] or layer["kernel"]}


# layer type -> (layer, input shape) -> torch module
MODULES = {
    "conv2d": lambda layer, shape: nn.Conv2d(
        shape[0],
        layer["channels"],
        layer["kernel"],
        stride=layer["stride"],
        padding=layer["padding"],
        bias=layer["bias"],
    ),
    "batch_norm": lambda layer, shape: nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0]),
    "relu": lambda layer, shape: nn.ReLU(),
    "leaky_relu": lambda layer, shape: nn.LeakyReLU(layer["slope"]),
    # random slopes in training mode come from torch's global generator: seeded, saved on resume
    "rrelu": lambda layer, shape: nn.RReLU(layer["lower"], layer["upper"]),
    "elu": lambda layer, shape: nn.ELU(layer["alpha"]),
    "tanh": lambda layer, shape: nn.Tanh(),
    "sigmoid": lambda layer, shape: nn.Sigmoid(),
    "max_pool": lambda layer, shape: nn.MaxPool2d(**_pool_args(layer)),
    "avg_pool": lambda layer, shape: nn.AvgPool2d(**_pool_args(layer)),
    "global_avg_pool": lambda layer, shape: GlobalMeanPool(),
    "dropout": lambda layer, shape: nn.Dropout(layer["p"]),
    "dropout2d": lambda layer, shape: nn.Dropout2d(layer["p"]),
    "flatten": lambda layer, shape: nn.Flatten(),
    "linear": lambda layer, shape: nn.Linear(shape[0], layer["units"], bias=layer["bias"]),
}


def build(arch: dict, channels: int, size: int, num_classes: int) -> Classifier:
    layers = arch["layers"]
    outputs = infer_shapes(layers, channels, size)
    inputs = [(channels, size, size), *outputs[:-1]]
    trunk = nn.Sequential(*(MODULES[layer["type"]](layer, shape) for layer, shape in zip(layers, inputs)))
    return Classifier(trunk, nn.Linear(outputs[-1][0], num_classes))
