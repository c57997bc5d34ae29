"""The train stage's files: checkpoint.pt, history.csv, latent.npz, architecture.txt (docs/contracts.md).

    checkpoint = build_checkpoint(run, data, arch, complete=True)
    ckpt_io.save_checkpoint(paths.checkpoint, checkpoint)
    write_history(paths.history, run.history)              # one row per epoch, HISTORY_COLUMNS
    write_latent(paths.latent, run.latent, data.val.y_np)  # penultimate features per epoch
    write_architecture(paths.checkpoint, run.model, data)  # per-layer table beside the checkpoint

Both trainers write them through these functions, so their outputs agree: maskflow.training.train after
every epoch and at the end (`run` is its maskflow.training.loop.Run), and maskflow.models.numpy_mlp once
(with a stand-in holding the same fields). Every write is atomic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from maskflow.io import hashing
from maskflow.io.atomic import atomic_path, write_csv
from maskflow.models import checkpoint as ckpt_io
from maskflow.runtime.device import describe
from maskflow.tracking.identity import training_run
from maskflow.training.data import Data
from maskflow.training.loop import Run

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]


def build_checkpoint(run: Run, data: Data, arch: dict, complete: bool = False) -> dict:
    device = data.train.x.device
    state, weights_epoch = run.output_state()
    row = next((r for r in run.history if r["epoch"] == weights_epoch), None)
    model_state = {k: v.detach().cpu() for k, v in state.items()}
    return {
        "format": ckpt_io.FORMAT,
        "model_state": model_state,
        # Checked by maskflow.data.integrity.check_checkpoint: a per-epoch save is not a finished
        # model, and torch loads a damaged tensor without complaint.
        "complete": complete,
        "weights_sha256": hashing.state_sha256(model_state),
        "arch": arch,
        "classes": data.classes,
        "normalization": data.normalization,
        "image": {"size": data.size, "channels": data.channels},
        "spec": run.spec,
        "seed": run.spec["seed"],
        "epoch": run.epoch,
        # The epoch whose weights these are: the best one by the early-stopping monitor when
        # restoring it, else the last (figures mark it on the learning curves).
        "best_epoch": weights_epoch,
        "device": describe(device),
        "versions": ckpt_io.versions(),
        "data_sha256": data.sha256,
        "val_metrics": {"loss": row["val_loss"], "accuracy": row["val_acc"]} if row else None,
        "train_seconds": round(run.train_seconds, 3),
        "param_count": sum(p.numel() for p in run.model.parameters()),
        # this training's own id and times: the run history records each training once
        "training_run": training_run(run.history),
    }


def write_architecture(checkpoint: Path, model: torch.nn.Module, data: Data) -> Path:
    """architecture.txt beside the checkpoint: the model's per-layer table (maskflow.models.summary)."""
    from maskflow.io.atomic import write_text
    from maskflow.models.summary import architecture_path, summary_table

    path = architecture_path(checkpoint)
    write_text(path, summary_table(model, data.channels, data.size))
    return path


def write_history(path: Path, history: list[dict]) -> None:
    write_csv(path, pd.DataFrame(history, columns=HISTORY_COLUMNS))


def write_latent(path: Path, latent: dict[int, torch.Tensor], labels: np.ndarray) -> None:
    epochs = sorted(latent)
    arrays = {f"features_e{e}": latent[e].numpy().astype(np.float32) for e in epochs}
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            epochs=np.array(epochs, dtype=np.int64),
            labels=labels if epochs else np.zeros(0, dtype=np.int64),
            **arrays,
        )
