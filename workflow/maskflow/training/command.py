"""`maskflow train`, the command: parse it, resolve the spec once, hand it to the model type's trainer.

    maskflow train --spec '{"name": "dnn", "arch": {"type": "numpy_mlp", ...}, ...}' --cache-dir ... \
        --normalization ... --checkpoint ... --history ... --latent ... --resume ... \
        --architecture ... --threads 2

This module imports neither torch nor pandas. The model registry (maskflow.models) names the
trainer of each type (`trainer`: "numpy" for numpy_mlp; none: the torch trainer) and TRAINERS
below says where each lives, so a NumPy model's train job is handed over before anything imports
torch and costs a NumPy process (about 0.5 s of CPU) instead of a torch one (about 3 s). Both
trainers are called as `run(spec, args)` with the resolved spec and write their files through
maskflow.training.outputs.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument(
        "--architecture", required=True, type=Path, help="architecture.txt to write: the per-layer table"
    )
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


# trainer name (maskflow.models.ArchType.trainer; None: "torch") -> its `run(spec, args)`, imported
# only when it trains (the torch trainer imports torch).
TRAINERS = {
    "torch": "maskflow.training.torch_trainer:run",
    "numpy": "maskflow.training.numpy_mlp:run",
}


def trainer_of(spec: dict):
    """The trainer of the resolved spec's model type, called as trainer(spec, args)."""
    return imported(TRAINERS[REGISTRY[spec["arch"]["type"]].trainer or "torch"])


def run(args: argparse.Namespace) -> dict:
    spec = resolve_spec(args.spec)
    return trainer_of(spec)(spec, args)
