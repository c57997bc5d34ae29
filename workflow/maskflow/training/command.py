"""`maskflow train`, the command: parse it, resolve the spec, hand it to the model type's trainer.

    maskflow train --spec '{"name": "dnn", "arch": {"type": "numpy_mlp", ...}, ...}' --cache-dir ... \
        --normalization ... --checkpoint ... --history ... --latent ... --resume ... --threads 2

This module imports neither torch nor pandas. A model type with a trainer of its own in the
registry (maskflow.models: `numpy_mlp` -> maskflow.training.numpy_mlp) is handed over here
before anything imports torch, so a NumPy model's train job costs a NumPy process (about 0.5 s
of CPU) instead of a torch one (about 3 s). Every other type goes to the torch trainer,
maskflow.training.train, imported only then. `add_arguments`, `resolve_spec` and `Paths` live
here for both (maskflow.training.train re-exports them).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from maskflow.config import DEFAULT_DEVICE, DEFAULT_SEED, resolve_train
from maskflow.errors import ConfigError
from maskflow.models import REGISTRY, check_arch, imported
from maskflow.options import json_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", required=True, help="one resolved model as JSON (maskflow.config)")
    parser.add_argument("--cache-dir", required=True, type=Path, help="folder of {split}_x.npy / {split}_y.npy")
    parser.add_argument("--normalization", required=True, type=Path, help="normalization.json of the train split")
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--history", required=True, type=Path)
    parser.add_argument("--latent", required=True, type=Path, help="penultimate features at latent_epochs (npz)")
    parser.add_argument("--resume", required=True, type=Path, help="resume state, kept until training finishes")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    parser.add_argument(
        "--classes", help="class names as a JSON list, in label order (default: from {split}_index.csv)"
    )


def resolve_spec(text: str) -> dict:
    """The --spec JSON with train defaults filled in (a hand-written spec may leave them out)."""
    spec = json_option(text, "--spec")
    name = spec.setdefault("name", "model")
    try:
        spec["arch"] = check_arch(spec.get("arch"))
    except ConfigError as error:
        raise ConfigError(f"models.{name}.arch: {error}") from None
    spec["train"] = resolve_train(spec.get("train"), f"models.{name}.train")
    spec.setdefault("seed", DEFAULT_SEED)
    spec.setdefault("device", DEFAULT_DEVICE)
    return spec


@dataclass
class Paths:
    checkpoint: Path
    history: Path
    latent: Path
    resume: Path

    @classmethod
    def of(cls, args: argparse.Namespace) -> Paths:
        return cls(args.checkpoint, args.history, args.latent, args.resume)


def own_trainer(spec: dict):
    """The registry's trainer of the spec's type (called as trainer(spec, args)), or None: the torch loop."""
    path = REGISTRY[spec["arch"]["type"]].trainer
    return imported(path) if path else None


def run(args: argparse.Namespace) -> dict:
    spec = resolve_spec(args.spec)
    trainer = own_trainer(spec)
    if trainer is not None:
        return trainer(spec, args)
    from maskflow.training import train  # torch, imported only for the types it trains

    return train.run(args)
