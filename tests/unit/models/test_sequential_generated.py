"""`infer_shapes` (no torch, at config time) against a real torch forward, over generated layer lists.

Each list is drawn from a seeded generator: conv2d (kernel, stride, integer or 'same' padding),
max and avg pooling (kernel, stride), batch_norm, activations, dropout, then flatten (+ linear
layers, + batch_norm) or global average pooling. The torch side is built with torch's lazy
modules (LazyConv2d, LazyLinear, LazyBatchNorm), so it knows nothing of maskflow's arithmetic:
an accepted list must give torch's shape at every layer, and a list refused because a kernel or
pool does not fit its maps must be one that torch refuses too.

Run: pytest -q tests/unit/models/test_sequential_generated.py
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from maskflow.errors import ConfigError
from maskflow.models.sequential_shapes import check_layers, infer_shapes

LISTS = 300
ACTIVATIONS = ["relu", "leaky_relu", "elu", "tanh", "sigmoid", "rrelu"]


def spatial_layer(rng: random.Random) -> dict:
    kind = rng.choice(["conv2d", "conv2d", "max_pool", "avg_pool", "batch_norm", "activation", "dropout2d"])
    if kind == "conv2d":
        stride = rng.choice([1, 1, 2, 3])
        layer = {"type": "conv2d", "channels": rng.randint(1, 6), "kernel": rng.randint(1, 5), "stride": stride}
        layer["padding"] = rng.choice(["same", 0, 1, 2]) if stride == 1 else rng.choice([0, 1, 2])
        layer["bias"] = rng.random() < 0.5
        return layer
    if kind in ("max_pool", "avg_pool"):
        layer = {"type": kind, "kernel": rng.randint(1, 4)}
        if rng.random() < 0.5:
            layer["stride"] = rng.randint(1, 3)
        return layer
    if kind == "activation":
        return {"type": rng.choice(ACTIVATIONS)}
    return {"type": kind}


def flat_tail(rng: random.Random) -> list[dict]:
    tail = [{"type": rng.choice(["flatten", "global_avg_pool"])}]
    for _ in range(rng.randint(0, 2)):
        tail.append({"type": "linear", "units": rng.randint(1, 12), "bias": rng.random() < 0.5})
        tail += rng.sample([{"type": "batch_norm"}, {"type": "dropout"}, {"type": rng.choice(ACTIVATIONS)}], k=1)
    return tail


def generated(seed: int) -> tuple[list[dict], int, int]:
    """(layers, channels, size): up to six spatial layers, then a flat tail."""
    rng = random.Random(seed)
    layers = [spatial_layer(rng) for _ in range(rng.randint(1, 6))] + flat_tail(rng)
    return layers, rng.choice([1, 3]), rng.randint(3, 20)


def torch_module(layer: dict, maps: bool) -> nn.Module:
    """The layer as torch has it, sized lazily by the first forward (no maskflow arithmetic)."""
    kind = layer["type"]
    if kind == "conv2d":
        return nn.LazyConv2d(
            layer["channels"], layer["kernel"], stride=layer["stride"], padding=layer["padding"], bias=layer["bias"]
        )
    if kind in ("max_pool", "avg_pool"):
        pool = nn.MaxPool2d if kind == "max_pool" else nn.AvgPool2d
        return pool(layer["kernel"], stride=layer.get("stride"))  # torch's default: the kernel
    if kind == "batch_norm":
        return nn.LazyBatchNorm2d() if maps else nn.LazyBatchNorm1d()
    if kind == "linear":
        return nn.LazyLinear(layer["units"], bias=layer["bias"])
    simple = {
        "global_avg_pool": lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        "flatten": nn.Flatten,
        "dropout": nn.Dropout,
        "dropout2d": nn.Dropout2d,
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "elu": nn.ELU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "rrelu": nn.RReLU,
    }
    return simple[kind]()


def torch_shapes(layers: list[dict], channels: int, size: int) -> list[tuple[int, ...]]:
    """Each layer's output shape (without the batch) in a real forward; RuntimeError if torch refuses."""
    x = torch.randn(2, channels, size, size)
    shapes = []
    with torch.no_grad():
        for layer in layers:
            x = torch_module(layer, maps=x.dim() == 4).eval()(x)
            if x.numel() == 0:  # torch gives an empty tensor for some sizes instead of raising
                raise RuntimeError(f"{layer['type']} gives an empty output {tuple(x.shape)}")
            shapes.append(tuple(x.shape[1:]))
    return shapes


def test_the_generated_lists_cover_acceptance_and_refusal():
    outcomes = {"accepted": 0, "refused": 0}
    for seed in range(LISTS):
        layers, channels, size = generated(seed)
        try:
            infer_shapes(check_layers(layers), channels, size)
            outcomes["accepted"] += 1
        except ConfigError:
            outcomes["refused"] += 1
    assert min(outcomes.values()) >= LISTS // 10, outcomes  # both sides get many lists


@pytest.mark.parametrize("seed", range(LISTS))
def test_inferred_shapes_are_torchs_or_refused_where_torch_refuses(seed):
    torch.manual_seed(seed)
    layers, channels, size = generated(seed)
    try:
        inferred = infer_shapes(check_layers(layers), channels, size)
    except ConfigError as error:
        assert "does not fit" in str(error) or "shrinks" in str(error), str(error)
        with pytest.raises(RuntimeError):
            torch_shapes(layers, channels, size)
        return
    assert inferred == torch_shapes(layers, channels, size), (layers, channels, size)
