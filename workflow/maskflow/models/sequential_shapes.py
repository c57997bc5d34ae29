"""`sequential` layers: their keys, and the shape of every layer's output, without torch.

The config stage (maskflow.config, on every Snakemake start) calls `check_layers` on the raw
list and `infer_shapes` with the dataset's crop size and channels, so a network that does not
fit together is reported before any job starts, naming the layer:

    layers[7] (linear): expects 8192 inputs, gets 2048 (after layers[6] flatten of 512x2x2)

Shapes are tuples: (channels, height, width) for feature maps, (features,) for vectors. The
arithmetic is PyTorch's (floor division), so the builder (maskflow.models.sequential) gets the
same numbers torch will. The optional `in_channels` (conv2d), `inputs` (linear) and `features`
(batch_norm) keys hold what the user's own code wrote, and are checked against the inference.

    python -m maskflow.models.sequential_shapes     # prints the shapes of a small example
"""

from __future__ import annotations

from collections.abc import Callable

from maskflow.errors import ConfigError
from maskflow.models.keys import Key, choice, fill, fraction, integer, optional, padding

Shape = tuple[int, ...]


def number(minimum: float = 0.0) -> Callable:
    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise ConfigError(f"{where}: must be a number >= {minimum:g}, got {value!r}")
        return float(value)

    return check


def boolean(value, where):
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false, got {value!r}")
    return value


def _table(name: str, **keys: Key) -> dict[str, Key]:
    return {"type": Key(choice(name)), **keys}


POOL_KEYS = {"kernel": Key(integer(1), 2), "stride": Key(optional(integer(1)), None)}

# layer type -> its keys (REQUIRED or with the default torch uses).
LAYERS: dict[str, dict[str, Key]] = {
    "conv2d": _table(
        "conv2d",
        channels=Key(integer(1)),
        kernel=Key(integer(1), 3),
        stride=Key(integer(1), 1),
        padding=Key(padding, 0),
        bias=Key(boolean, True),
        in_channels=Key(optional(integer(1)), None),
    ),
    "batch_norm": _table("batch_norm", features=Key(optional(integer(1)), None)),
    "relu": _table("relu"),
    "leaky_relu": _table("leaky_relu", slope=Key(number(0.0), 0.01)),
    "rrelu": _table("rrelu", lower=Key(number(0.0), 1 / 8), upper=Key(number(0.0), 1 / 3)),
    "elu": _table("elu", alpha=Key(number(0.0), 1.0)),
    "tanh": _table("tanh"),
    "sigmoid": _table("sigmoid"),
    "max_pool": _table("max_pool", **POOL_KEYS),
    "avg_pool": _table("avg_pool", **POOL_KEYS),
    "global_avg_pool": _table("global_avg_pool"),
    "dropout": _table("dropout", p=Key(fraction, 0.5)),
    "dropout2d": _table("dropout2d", p=Key(fraction, 0.5)),
    "flatten": _table("flatten"),
    "linear": _table("linear", units=Key(integer(1)), bias=Key(boolean, True), inputs=Key(optional(integer(1)), None)),
}


def check_layers(value, where: str = "layers") -> list[dict]:
    """The layer list with every key checked and defaults filled; ConfigError names the layer."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: must be a list of at least one layer mapping, got {value!r}")
    layers = []
    for i, layer in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(layer, dict) or "type" not in layer:
            raise ConfigError(f"{here}: must be a mapping with a `type`; layer types: {', '.join(LAYERS)}")
        if layer["type"] not in LAYERS:
            raise ConfigError(f"{here}.type: unknown layer type {layer['type']!r}; layer types: {', '.join(LAYERS)}")
        filled = fill(LAYERS[layer["type"]], layer, here)
        if filled["type"] == "conv2d" and filled["padding"] == "same" and filled["stride"] != 1:
            raise ConfigError(f"{here}.padding: 'same' needs stride 1 (this conv has stride {filled['stride']})")
        if filled["type"] == "rrelu" and filled["lower"] > filled["upper"]:
            raise ConfigError(f"{here}.lower: must not exceed upper ({filled['lower']:g} > {filled['upper']:g})")
        layers.append(filled)
    return layers


# The arch-level table (maskflow.models.REGISTRY).
SEQUENTIAL = {"type": Key(choice("sequential")), "layers": Key(check_layers)}


def fmt(shape: Shape) -> str:
    return "x".join(map(str, shape))


def fmt_product(shape: Shape) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _spatial(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


class _Context:
    """Words for messages: which layer, and what came before it."""

    def __init__(self, layers: list[dict], inputs: list[Shape], start: Shape):
        self.layers, self.inputs, self.start = layers, inputs, start

    def before(self, i: int) -> str:
        if i == 0:
            return f"the input crops are {fmt(self.start)}"
        prev = self.layers[i - 1]["type"]
        if prev == "flatten":
            return f"after layers[{i - 1}] flatten of {fmt(self.inputs[i - 1])}"
        return f"after layers[{i - 1}] {prev}, which gives {fmt(self.inputs[i])}"

    def fail(self, i: int, problem: str) -> ConfigError:
        return ConfigError(f"layers[{i}] ({self.layers[i]['type']}): {problem} ({self.before(i)})")


def _maps(shape: Shape, ctx: _Context, i: int) -> Shape:
    if len(shape) != 3:
        raise ctx.fail(i, f"needs feature maps (channels x height x width), gets a flat vector of {shape[0]}")
    return shape


def _conv(layer: dict, shape: Shape, ctx: _Context, i: int) -> Shape:
    c, h, w = _maps(shape, ctx, i)
    if layer["in_channels"] is not None and layer["in_channels"] != c:
        raise ctx.fail(i, f"expects {layer['in_channels']} input channels, gets {c}")
    if layer["padding"] == "same":
        return (layer["channels"], h, w)
    k, s, p = layer["kernel"], layer["stride"], layer["padding"]
    out = (layer["channels"], _spatial(h, k, s, p), _spatial(w, k, s, p))
    if min(out[1:]) < 1:
        raise ctx.fail(i, f"a {k}x{k} kernel with padding {p} does not fit the {h}x{w} maps")
    return out


def _pool(layer: dict, shape: Shape, ctx: _Context, i: int) -> Shape:
    c, h, w = _maps(shape, ctx, i)
    k, s = layer["kernel"], layer["stride"] or layer["kernel"]
    out = (c, _spatial(h, k, s, 0), _spatial(w, k, s, 0))
    if min(out[1:]) < 1:
        raise ctx.fail(i, f"a {k}x{k} pool shrinks the {h}x{w} maps to nothing; use fewer or smaller pools")
    return out


def _batch_norm(layer: dict, shape: Shape, ctx: _Context, i: int) -> Shape:
    if layer["features"] is not None and layer["features"] != shape[0]:
        raise ctx.fail(i, f"expects {layer['features']} features, gets {shape[0]}")
    return shape


def _linear(layer: dict, shape: Shape, ctx: _Context, i: int) -> Shape:
    if len(shape) != 1:
        raise ctx.fail(i, f"needs a flat input, gets {fmt(shape)} maps; put a flatten or global_avg_pool before it")
    if layer["inputs"] is not None and layer["inputs"] != shape[0]:
        raise ctx.fail(i, f"expects {layer['inputs']} inputs, gets {shape[0]}")
    return (layer["units"],)


def _dropout2d(layer: dict, shape: Shape, ctx: _Context, i: int) -> Shape:
    return _maps(shape, ctx, i)


def _same(layer: dict, shape: Shape, ctx: _Context, i: int) -> Shape:
    return shape


# layer type -> (layer, input shape, context, index) -> output shape
SHAPES: dict[str, Callable[[dict, Shape, _Context, int], Shape]] = {
    "conv2d": _conv,
    "batch_norm": _batch_norm,
    "max_pool": _pool,
    "avg_pool": _pool,
    "global_avg_pool": lambda layer, shape, ctx, i: (_maps(shape, ctx, i)[0],),
    "dropout2d": _dropout2d,
    "flatten": lambda layer, shape, ctx, i: (fmt_product(shape),),
    "linear": _linear,
    **{name: _same for name in ("relu", "leaky_relu", "rrelu", "elu", "tanh", "sigmoid", "dropout")},
}


def infer_shapes(layers: list[dict], channels: int, size: int) -> list[Shape]:
    """Output shape of every (checked) layer for channels x size x size input crops.

    The last layer must give a flat vector: maskflow appends the linear layer to the classes."""
    start: Shape = (channels, size, size)
    inputs: list[Shape] = [start]
    ctx = _Context(layers, inputs, start)
    for i, layer in enumerate(layers):
        inputs.append(SHAPES[layer["type"]](layer, inputs[i], ctx, i))
    if len(inputs[-1]) != 1:
        last = len(layers) - 1
        raise ConfigError(
            f"layers[{last}] ({layers[last]['type']}): the network ends with {fmt(inputs[-1])} maps; end it with "
            "flatten or global_avg_pool (maskflow appends the final linear layer to the number of classes)"
        )
    return inputs[1:]


def check_input(arch: dict, channels: int, size: int) -> None:
    """The registry's shape check of a filled `sequential` arch (raises ConfigError)."""
    infer_shapes(arch["layers"], channels, size)


if __name__ == "__main__":
    example = check_layers(
        [
            {"type": "conv2d", "channels": 8, "padding": 1},
            {"type": "relu"},
            {"type": "max_pool"},
            {"type": "flatten"},
            {"type": "linear", "units": 32},
        ]
    )
    for layer, shape in zip(example, infer_shapes(example, 1, 16)):
        print(f"{layer['type']:>10}  {fmt(shape)}")
