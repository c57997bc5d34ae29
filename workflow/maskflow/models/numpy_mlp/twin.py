"""The torch twin of a NumPy MLP: the same function as a torch module, weights copied.

`to_torch(state, arch)` builds it from trained numpy weights; `build` is its untrained form for
the model registry (maskflow.models), which reloads checkpoints. torch is imported on first use:
numpy training does not need it.
"""

from __future__ import annotations

import functools

import numpy as np

from maskflow.models.numpy_mlp.network import check_arch, layer_sizes


@functools.cache
def _torch_class():
    # Built on first use: importing torch costs seconds and numpy training does not need it.
    import torch
    from torch import nn

    torch_activations = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}

    class NumpyMLPTorch(nn.Module):
        """The torch twin of a numpy_mlp: Flatten, Linear + activation per hidden layer, Linear."""

        def __init__(self, sizes: list[int], activation: str = "relu", dtype: str = "float32"):
            super().__init__()
            torch_dtype = getattr(torch, dtype)
            hidden = []
            for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
                hidden += [nn.Linear(fan_in, fan_out, dtype=torch_dtype), torch_activations[activation]()]
            self.hidden = nn.Sequential(*hidden)
            self.output = nn.Linear(sizes[-2], sizes[-1], dtype=torch_dtype)

        def features(self, x):
            # Inputs arrive as float32 from the shared inference path; cast to the weights' dtype.
            return self.hidden(x.flatten(1).to(self.output.weight.dtype))

        def forward(self, x):
            return self.output(self.features(x))

    return NumpyMLPTorch


def _twin(arch: dict, in_features: int, n_classes: int):
    check_arch(arch)
    sizes = [in_features, *arch.get("hidden", [64]), n_classes]
    return _torch_class()(sizes, arch.get("activation", "relu"), arch.get("dtype", "float32"))


def build(arch: dict, channels: int, size: int, num_classes: int):
    """An untrained torch twin for `arch` (maskflow.models registry signature): what a
    checkpoint loader builds before load_state_dict."""
    return _twin(arch, channels * size * size, num_classes)


def to_torch(state: dict[str, np.ndarray], arch: dict):
    """The torch module computing exactly what the numpy weights compute (weights copied)."""
    import torch

    sizes = layer_sizes(state)
    module = _twin(arch, sizes[0], sizes[-1])
    linears = [m for m in module.hidden if isinstance(m, torch.nn.Linear)] + [module.output]
    with torch.no_grad():
        for i, linear in enumerate(linears):
            # numpy computes x @ w; torch's Linear computes x @ weight.T
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(state[f"w{i}"].T)))
            linear.bias.copy_(torch.from_numpy(state[f"b{i}"]))
    return module.eval()
