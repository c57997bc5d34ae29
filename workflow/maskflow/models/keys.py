"""The keys each architecture type accepts, their checks and defaults (no torch import).

`maskflow.models.check_arch` uses these tables when the Snakefile resolves the config, so a
typo or a bad value is reported before any job starts, naming the key:

    blocks[1].kernel: must be an integer >= 1, got 0

A table maps key -> `Key(check, default)`; `REQUIRED` marks keys without a default. Checks
take (value, where) and return the value or raise `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maskflow.errors import ConfigError

REQUIRED = object()
ACTIVATIONS = ("relu", "leaky_relu", "rrelu", "tanh", "sigmoid")

Check = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Key:
    check: Check
    default: Any = REQUIRED


def integer(minimum: int = 1) -> Check:
    def check(value, where):
        # bool is an int subclass: `kernel: true` is a mistake, not 1
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{where}: must be an integer >= {minimum}, got {value!r}")
        return value

    return check


def fraction(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{where}: must be a number in [0, 1), got {value!r}")
    return float(value)


def boolean(value, where):
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false, got {value!r}")
    return value


def choice(*allowed) -> Check:
    def check(value, where):
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not allowed; allowed values: {', '.join(map(repr, allowed))}")
        return value

    return check


def optional(inner: Check) -> Check:
    def check(value, where):
        return None if value is None else inner(value, where)

    return check


def int_list(value, where):
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list of integers >= 1, got {value!r}")
    return [integer(1)(v, f"{where}[{i}]") for i, v in enumerate(value)]


def padding(value, where):
    if value == "same":
        return value
    return integer(0)(value, where)


def fill(table: dict[str, Key], entry: Any, where: str = "") -> dict:
    """`entry` checked against `table`, with defaults filled in; `where` prefixes messages."""
    prefix = f"{where}." if where else ""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where or 'arch'}: must be a mapping of keys, got {entry!r}")
    unknown = sorted(set(entry) - set(table))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key; allowed keys: {', '.join(sorted(table))}")
    filled = {}
    for name, key in table.items():
        if name in entry:
            filled[name] = key.check(entry[name], f"{prefix}{name}")
        elif key.default is REQUIRED:
            raise ConfigError(f"{prefix}{name}: required")
        else:
            filled[name] = key.default
    return filled


def list_of(table: dict[str, Key], minimum: int = 1) -> Check:
    def check(value, where):
        if not isinstance(value, list) or len(value) < minimum:
            raise ConfigError(f"{where}: must be a list of at least {minimum} mapping(s), got {value!r}")
        return [fill(table, item, f"{where}[{i}]") for i, item in enumerate(value)]

    return check


ACTIVATION = choice(*ACTIVATIONS)

MLP = {
    "type": Key(choice("mlp")),
    "hidden": Key(int_list, [128]),
    "activation": Key(ACTIVATION, "relu"),
    "dropout": Key(fraction, 0.0),
    "batch_norm": Key(boolean, False),
    # A narrow linear layer before the classifier (e.g. 2 units) whose output is plotted.
    "bottleneck": Key(optional(integer(1)), None),
}

CNN_BLOCK = {
    "channels": Key(integer(1)),
    "kernel": Key(integer(1), 3),
    "stride": Key(integer(1), 1),
    # None: 'same' for stride 1, else kernel // 2 (PyTorch has no 'same' for strided convs).
    "padding": Key(optional(padding), None),
    "pool": Key(optional(integer(1)), None),
    "batch_norm": Key(boolean, False),
    "dropout": Key(fraction, 0.0),
    # None: the arch-level activation.
    "activation": Key(optional(ACTIVATION), None),
}

CNN = {
    "type": Key(choice("cnn")),
    "blocks": Key(list_of(CNN_BLOCK)),
    "head": Key(int_list, [128]),
    "activation": Key(ACTIVATION, "relu"),
    "dropout": Key(fraction, 0.0),
}

RESNET = {
    "type": Key(choice("resnet")),
    "width": Key(integer(1), 64),
}


def fill_cnn(arch: dict) -> dict:
    """CNN defaults that depend on other keys (padding on stride, activation on the arch)."""
    for i, block in enumerate(arch["blocks"]):
        if block["padding"] is None:
            block["padding"] = "same" if block["stride"] == 1 else block["kernel"] // 2
        elif block["padding"] == "same" and block["stride"] != 1:
            raise ConfigError(
                f"blocks[{i}].padding: 'same' needs stride 1 (this block has stride {block['stride']}); "
                f"give an integer, e.g. {block['kernel'] // 2}"
            )
        if block["activation"] is None:
            block["activation"] = arch["activation"]
    return arch
