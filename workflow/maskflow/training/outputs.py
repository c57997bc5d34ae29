"""The train stage's files, written the same way by both trainers (docs/contracts.md).

    paths = Paths.of(args)                                  # checkpoint, history, latent, resume, architecture
    checkpoint = checkpoint_dict(spec, data, state, history=..., epoch=..., best_epoch=..., ...)
    ckpt_io.save_checkpoint(paths.checkpoint, checkpoint)
    write_history(paths.history, history)                   # one row per epoch, HISTORY_COLUMNS
    write_latent(paths.latent, latent, data.val.y_np)       # penultimate features per epoch (NumPy arrays)
    atomic.write_text(paths.architecture, table)            # per-layer table (maskflow.models.summary)

The torch trainer (maskflow.training.torch_trainer) writes them after every epoch and at the end,
the NumPy trainer (maskflow.training.numpy_mlp) once; both call these functions, so their outputs
agree. `MONITORS` is early stopping's comparison for both. Neither torch nor pandas is imported
here (a NumPy model's train job never imports them). Every write is atomic.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskflow.io import atomic
from maskflow.io.hashing import state_sha256
from maskflow.models import checkpoint as ckpt_io
from maskflow.tracking.identity import training_run

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]

# early stopping: monitored column -> (is `new` better than `best`?, the value nothing is worse than)
MONITORS = {
    "val_loss": (lambda new, best: new < best, float("inf")),
    "val_acc": (lambda new, best: new > best, float("-inf")),
}


@dataclass
class Paths:
    """Where `maskflow train` writes (the train rule's outputs, and the resume state beside them)."""

    checkpoint: Path
    history: Path
    latent: Path
    resume: Path
    architecture: Path

    @classmethod
    def of(cls, args: argparse.Namespace) -> Paths:
        return cls(args.checkpoint, args.history, args.latent, args.resume, args.architecture)


def checkpoint_dict(
    spec: dict,
    data,
    model_state: dict,
    *,
    history: list[dict],
    epoch: int,
    best_epoch: int,
    complete: bool,
    device: str,
    versions: dict[str, str],
    train_seconds: float,
    param_count: int,
    weights_format: str | None = None,
) -> dict:
    """The checkpoint dict (maskflow.models.checkpoint saves it) of weights `model_state` (torch
    tensors on the CPU, or NumPy arrays with `weights_format="numpy"`) trained from `data`
    (maskflow.training.data's Data)."""
    row = next((r for r in history if r["epoch"] == best_epoch), None)
    checkpoint = {"format": ckpt_io.FORMAT}
    if weights_format is not None:
        checkpoint["weights_format"] = weights_format
    return {
        **checkpoint,
        "model_state": model_state,
        # Checked by maskflow.models.checkpoint.check_checkpoint: a per-epoch save is not a finished
        # model, and torch loads a damaged tensor without complaint.
        "complete": complete,
        "weights_sha256": state_sha256(model_state),
        "arch": spec["arch"],
        "classes": data.classes,
        "normalization": data.normalization,
        "image": {"size": data.size, "channels": data.channels},
        "spec": spec,
        "seed": spec["seed"],
        "epoch": epoch,
        # The epoch whose weights these are: the best one by the early-stopping monitor when
        # restoring it, else the last (figures mark it on the learning curves).
        "best_epoch": best_epoch,
        "device": device,
        "versions": versions,
        "data_sha256": data.sha256,
        "val_metrics": {"loss": row["val_loss"], "accuracy": row["val_acc"]} if row else None,
        "train_seconds": round(train_seconds, 3),
        "param_count": param_count,
        # this training's own id and times: the run history records each training once
        "training_run": training_run(history),
    }


def write_history(path, history: list[dict]) -> None:
    """history.csv as pandas writes it (floats by repr, NaN as an empty field), without pandas."""

    def cell(value) -> str:
        return "" if isinstance(value, float) and math.isnan(value) else str(value)

    lines = [",".join(HISTORY_COLUMNS)] + [",".join(cell(row[c]) for c in HISTORY_COLUMNS) for row in history]
    atomic.write_text(path, "\n".join(lines) + "\n")


def write_latent(path, latent: dict[int, np.ndarray], labels: np.ndarray) -> None:
    """latent.npz: epochs, labels, features_e{epoch} (float32 N x D) of each snapshot epoch."""
    epochs = sorted(latent)
    arrays = {f"features_e{e}": np.asarray(latent[e]).astype(np.float32) for e in epochs}
    with atomic.atomic_path(path) as tmp:
        np.savez(
            tmp,
            epochs=np.array(epochs, dtype=np.int64),
            labels=labels if epochs else np.zeros(0, dtype=np.int64),
            **arrays,
        )
