"""The model registry: arch `type` -> builder, and `check_arch` for the config stage.

    from maskflow.models import build_model
    model = build_model({"type": "cnn", "blocks": [{"channels": 16}]}, channels=3, size=32, num_classes=3)
    model.features(x)   # penultimate layer (latent plots, saliency)
    model(x)            # logits

Every built model takes normalised float N x C x H x W input and exposes `features(x)` and
`forward(x)`. Adding a type is one registry line: `ArchType(builder module, check[, trainer])`; the
builder module has `build(arch, channels, size, num_classes)` and is imported only when a
model is built, so checking a config (every Snakemake start) does not import torch. A check
returns the arch with its defaults filled in, or None to keep it as given.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maskflow.errors import ConfigError
from maskflow.models import cnn_shapes, keys, sequential_shapes


def table(key_table: dict[str, keys.Key], finish: Callable[[dict], dict] | None = None) -> Callable[[dict], dict]:
    """A check from a key table (maskflow.models.keys), then `finish` for dependent defaults."""

    def check(arch: dict) -> dict:
        filled = keys.fill(key_table, arch)
        return finish(filled) if finish else filled

    return check


def imported(path: str) -> Callable:
    """`module:function`, imported on first call (keeps torch and friends out of config checks)."""

    def call(*args, **kwargs):
        module, name = path.split(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return call


@dataclass(frozen=True)
class ArchType:
    module: str  # holds build(arch, channels, size, num_classes) -> torch.nn.Module
    # arch -> arch with defaults filled (or None: used as given); raises ConfigError. No torch here.
    check: Callable[[dict], dict | None]
    # The trainer of this type, by name: the `maskflow train` command (maskflow.training.command.TRAINERS)
    # hands the model to it before torch is imported. None: the torch trainer.
    trainer: str | None = None
    # (filled arch, channels, size) -> None, raising ConfigError when the layers do not fit the
    # dataset's crops (checked when the config is resolved). No torch here either.
    input_check: Callable[[dict, int, int], None] | None = None
    # CPU threads its training runs on whatever the config's `threads: train` says, None: that
    # setting. A type with a fixed count trains on the CPU alone, so it never asks for a GPU
    # (train_needs; the train rule's threads and cluster resources).
    fixed_threads: int | None = None


REGISTRY: dict[str, ArchType] = {
    "mlp": ArchType("maskflow.models.mlp", table(keys.MLP)),
    "cnn": ArchType("maskflow.models.cnn", table(keys.CNN, keys.fill_cnn), input_check=cnn_shapes.check_input),
    "resnet": ArchType("maskflow.models.resnet", table(keys.RESNET)),
    "sequential": ArchType(
        "maskflow.models.sequential",
        table(sequential_shapes.SEQUENTIAL),
        input_check=sequential_shapes.check_input,
    ),
    # hand-written backprop in NumPy (maskflow.models.numpy_mlp), trained by the NumPy trainer and
    # saved as NumPy weights, all without torch; `module` builds its torch twin (figures)
    "numpy_mlp": ArchType(
        "maskflow.models.numpy_mlp.twin",
        imported("maskflow.models.numpy_mlp.network:check_arch"),
        trainer="numpy",
        fixed_threads=1,  # one BLAS thread (maskflow.training.numpy_mlp)
    ),
}


def check_arch(arch: Any) -> dict:
    """Return `arch` with every default filled in; raise ConfigError naming a bad key."""
    if not isinstance(arch, dict) or "type" not in arch:
        raise ConfigError(f"type: required; known types: {', '.join(sorted(REGISTRY))}")
    kind = REGISTRY.get(arch["type"])
    if kind is None:
        raise ConfigError(f"type: unknown model type {arch['type']!r}; known types: {', '.join(sorted(REGISTRY))}")
    arch = copy.deepcopy(arch)
    filled = kind.check(arch)
    return arch if filled is None else filled


# preprocess `channels` -> input channels (maskflow.data.crop.CHANNELS, without importing the data stage)
CHANNELS = {"rgb": 3, "gray": 1}


def check_input(arch: Any, preprocess: dict) -> dict:
    """check_arch, then whether the layers fit the dataset's crops (`preprocess`: size, channels)."""
    filled = check_arch(arch)
    input_check = REGISTRY[filled["type"]].input_check
    if input_check is not None:
        input_check(filled, CHANNELS[preprocess.get("channels", "rgb")], preprocess.get("size", 32))
    return filled


@dataclass(frozen=True)
class TrainNeeds:
    threads: int  # CPU threads the training runs on
    gpu: bool  # whether it can use a GPU (a cluster job asks for one only then)


def train_needs(spec: dict, configured_threads: int) -> TrainNeeds:
    """What training a resolved model (`arch`, `device`) needs from the machine, without importing
    torch: the workflow's train rule reads it to choose threads and whether to ask for a GPU."""
    fixed = REGISTRY[spec["arch"]["type"]].fixed_threads
    if fixed is not None:
        return TrainNeeds(threads=fixed, gpu=False)
    return TrainNeeds(threads=configured_threads, gpu=spec["device"] != "cpu")


def build_model(arch: dict, channels: int, size: int, num_classes: int):
    """A freshly initialised torch model for `arch` (seed torch first for reproducible weights)."""
    filled = check_arch(arch)
    module = importlib.import_module(REGISTRY[filled["type"]].module)
    return module.build(filled, channels=channels, size=size, num_classes=num_classes)
