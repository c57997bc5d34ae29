"""Training the NumPy MLP (`maskflow.models.numpy_mlp`), and the workflow's train stage for it.

- `train(x_train, y_train, x_val, y_val, arch, train_spec, seed, on_epoch)` mirrors the torch
  trainer: mini-batch SGD / Adam, seeded; it returns the weights and one history row per epoch
  with the columns of history.csv (`epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds`);
- `run(spec, args)` is `maskflow train` for this type (maskflow.training.command hands it over
  before anything imports torch) and `train_cached(spec, data, paths)` its work: cached arrays
  in; checkpoint (NumPy weights), history.csv and latent.npz out, in the formats
  maskflow.training.outputs writes for torch models. Neither torch nor pandas is imported.

    python -m maskflow.training.numpy_mlp      # trains on scikit-learn's digits and prints the history

train keys used: optimizer (sgd | adam | adamw), lr, momentum, nesterov, weight_decay,
schedule, batch_size, epochs, early_stopping, init, label_smoothing. Augmentation and imbalance
methods are torch-trainer features: `check_spec` refuses them here. Mixed precision does not
apply (the NumPy MLP trains in its arch `dtype` on the CPU).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from maskflow.cli import json_option
from maskflow.errors import ConfigError
from maskflow.io import atomic
from maskflow.models.numpy_mlp.network import (
    DTYPES,
    INITS,
    check_arch,
    features,
    init_params,
    loss_and_grads,
    predict_proba,
)
from maskflow.models.numpy_mlp.optim import OPTIMIZERS, SCHEDULES

log = logging.getLogger("maskflow.training.numpy_mlp")

# early stopping: monitored column -> is `new` better than `best`?
_BETTER = {"val_loss": lambda new, best: new < best, "val_acc": lambda new, best: new > best}


def check_spec(arch: dict, train_spec: dict) -> None:
    """check_arch, plus refuse training options only the torch trainer implements."""
    check_arch(arch)
    if train_spec.get("optimizer", "sgd") not in OPTIMIZERS:
        raise ConfigError(f"train.optimizer: {train_spec['optimizer']!r}; numpy_mlp has {', '.join(OPTIMIZERS)}")
    init = train_spec.get("init") or {}
    for key in ("weights", "bias"):
        if init.get(key, "default") not in INITS:
            raise ConfigError(f"train.init.{key}: {init[key]!r}; numpy_mlp has {', '.join(INITS)}")
    augment = {k: v for k, v in (train_spec.get("augment") or {}).items() if v}
    if augment:
        raise ConfigError(f"train.augment: numpy_mlp trains on fixed arrays; remove {', '.join(sorted(augment))}")
    method = (train_spec.get("imbalance") or {}).get("method", "none")
    if method != "none":
        raise ConfigError(f"train.imbalance.method: {method!r} is a torch-trainer feature; numpy_mlp supports none")


# --- training -------------------------------------------------------------------------------------
class Fit(NamedTuple):
    """What `train` returns: the weights to keep, the history rows, and which epoch they are from."""

    state: dict[str, np.ndarray]
    history: list[dict]
    best_epoch: int


def evaluate(state: dict, x: np.ndarray, y: np.ndarray, arch: dict) -> tuple[float, float]:
    """(mean cross-entropy, accuracy); NaN for an empty split."""
    if len(x) == 0:
        return float("nan"), float("nan")
    probs = predict_proba(state, x, arch)
    loss = float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-300)).mean())
    return loss, float((probs.argmax(axis=1) == y).mean())


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    arch: dict,
    train_spec: dict,
    seed: int,
    on_epoch: Callable[[int, dict, dict], None] | None = None,
    n_classes: int | None = None,
    val_metrics: Callable[[dict], tuple[float, float]] | None = None,
) -> Fit:
    """Train by mini-batch gradient descent; deterministic for a given seed.

    `on_epoch(epoch, row, state)` is called after each epoch with its history row and the
    current weights (read them, e.g. for latent snapshots; do not modify them). The returned
    state is the best epoch's when early stopping restores it, else the last epoch's.
    `val_metrics(state) -> (val_loss, val_acc)` replaces the evaluation of x_val/y_val here: the
    workflow passes maskflow.inference's NumPy branch, so logged metrics are the reproducible ones.
    """
    check_spec(arch, train_spec)
    dtype = DTYPES[arch.get("dtype", "float32")]
    activation = arch.get("activation", "relu")
    x_train = np.asarray(x_train, dtype=dtype).reshape(len(x_train), -1)
    x_val = np.asarray(x_val, dtype=dtype).reshape(len(x_val), -1)
    y_train, y_val = np.asarray(y_train, dtype=np.int64), np.asarray(y_val, dtype=np.int64)
    k = n_classes or int(max(y_train.max(initial=-1), y_val.max(initial=-1))) + 1

    rng = np.random.default_rng(seed)
    sizes = [x_train.shape[1], *arch.get("hidden", [64]), k]
    state = init_params(sizes, train_spec.get("init") or {}, rng, dtype)
    optimizer = OPTIMIZERS[train_spec.get("optimizer", "sgd")](state, train_spec)
    schedule = train_spec.get("schedule") or {"type": "none"}
    epochs, batch_size = train_spec.get("epochs", 20), train_spec.get("batch_size", 64)
    smoothing = train_spec.get("label_smoothing", 0.0)
    stopping = train_spec.get("early_stopping")

    history: list[dict] = []
    best = {"epoch": 0, "value": None, "state": None}
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        lr = SCHEDULES[schedule["type"]](train_spec.get("lr", 0.01), epoch, epochs, schedule)
        order = rng.permutation(len(x_train))
        loss_sum, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss, grads, probs = loss_and_grads(state, x_train[batch], y_train[batch], activation, smoothing)
            optimizer.step(state, grads, lr)
            # running means over the epoch, as the torch trainer logs them
            loss_sum += loss * len(batch)
            correct += int((probs.argmax(axis=1) == y_train[batch]).sum())
        val_loss, val_acc = val_metrics(state) if val_metrics else evaluate(state, x_val, y_val, arch)
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / max(len(order), 1),
            "train_acc": correct / max(len(order), 1),
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "seconds": round(time.perf_counter() - started, 3),
        }
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row, state)
        if stopping is None:
            continue
        value = row[stopping.get("monitor", "val_loss")]
        if best["value"] is None or _BETTER[stopping.get("monitor", "val_loss")](value, best["value"]):
            best = {"epoch": epoch, "value": value, "state": {n: p.copy() for n, p in state.items()}}
        elif epoch - best["epoch"] >= stopping.get("patience", 5):
            break
    if stopping is not None and stopping.get("restore_best", True) and best["state"] is not None:
        return Fit(best["state"], history, best["epoch"])
    return Fit(state, history, len(history))


# --- the workflow's train stage --------------------------------------------------------------------
# history.csv's columns, as maskflow.training.outputs.HISTORY_COLUMNS (a test holds them equal; that
# module imports torch, this one must not).
HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]


def param_count(state: dict[str, np.ndarray]) -> int:
    return int(sum(p.size for p in state.values()))


def write_history(path, history: list[dict]) -> None:
    """history.csv as pandas writes it (floats by repr, NaN as an empty field), without pandas."""

    def cell(value) -> str:
        return "" if isinstance(value, float) and math.isnan(value) else str(value)

    lines = [",".join(HISTORY_COLUMNS)] + [",".join(cell(row[c]) for c in HISTORY_COLUMNS) for row in history]
    atomic.write_text(path, "\n".join(lines) + "\n")


def write_latent(path, latent: dict[int, np.ndarray], labels: np.ndarray) -> None:
    """latent.npz as maskflow.training.outputs.write_latent writes it: epochs, labels, features_e{epoch}."""
    epochs = sorted(latent)
    arrays = {f"features_e{e}": latent[e].astype(np.float32) for e in epochs}
    with atomic.atomic_path(path) as tmp:
        np.savez(
            tmp,
            epochs=np.array(epochs, dtype=np.int64),
            labels=labels if epochs else np.zeros(0, dtype=np.int64),
            **arrays,
        )


def build_checkpoint(spec: dict, data, fit: Fit, seconds: float) -> dict:
    """The checkpoint dict of maskflow.training.outputs.build_checkpoint, with NumPy weights
    (`weights_format: numpy`: maskflow.models.checkpoint saves and loads it without torch)."""
    from maskflow.io.hashing import state_sha256
    from maskflow.models import checkpoint as ckpt_io
    from maskflow.tracking.identity import training_run

    row = next((r for r in fit.history if r["epoch"] == fit.best_epoch), None)
    return {
        "format": ckpt_io.FORMAT,
        "weights_format": "numpy",
        "model_state": fit.state,
        "complete": True,
        "weights_sha256": state_sha256(fit.state),
        "arch": spec["arch"],
        "classes": data.classes,
        "normalization": data.normalization,
        "image": {"size": data.size, "channels": data.channels},
        "spec": spec,
        "seed": spec["seed"],
        "epoch": len(fit.history),
        "best_epoch": fit.best_epoch,
        "device": "cpu (1 thread, NumPy)",
        "versions": ckpt_io.versions(torch=False),
        "data_sha256": data.sha256,
        "val_metrics": {"loss": row["val_loss"], "accuracy": row["val_acc"]} if row else None,
        "train_seconds": round(seconds, 3),
        "param_count": param_count(fit.state),
        "training_run": training_run(fit.history),  # the run history's id and times (maskflow.tracking.identity)
    }


def train_cached(spec: dict, data, paths, threads: int = 1) -> dict:
    """The train stage for `numpy_mlp`: cached arrays in, the outputs of a torch model out.

    `spec` is the resolved model, `data` maskflow.training.data's `Data` loaded with
    `device=None` (NumPy arrays) and `paths` maskflow.training.command's `Paths`. Inputs are
    normalised as the checkpoint's normalization says, and every validation metric goes through
    maskflow.inference's NumPy branch, the one evaluation takes, so evaluating the checkpoint
    reproduces the logged metrics exactly. Training runs on the CPU with one BLAS thread (`threads`,
    the rule's, is not used: see below) and takes seconds, so it writes its outputs once, at the end (no resume state). Returns the
    checkpoint dict it wrote. Nothing here imports torch or pandas.
    """
    from threadpoolctl import threadpool_limits

    from maskflow import inference
    from maskflow.models import checkpoint as ckpt_io

    arch, train_spec, normalization = spec["arch"], spec["train"], data.normalization
    x_train, x_val = (inference.normalize_numpy(split.x, normalization) for split in (data.train, data.val))
    latent: dict = {}

    def val_metrics(state: dict) -> tuple[float, float]:
        proba = inference.numpy_proba(state, arch, data.val.x, normalization)
        metrics = inference.proba_metrics(proba, data.val.y_np)
        return metrics["loss"], metrics["accuracy"]

    def on_epoch(epoch: int, row: dict, state: dict) -> None:
        if epoch in train_spec["latent_epochs"] and len(data.val.y_np):
            latent[epoch] = inference.numpy_forward(lambda x: features(state, x, arch), data.val.x, normalization)
        log.info(
            "epoch %d/%d %s",
            epoch,
            train_spec["epochs"],
            " ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch"),
        )

    log.info(
        "training %s: numpy_mlp %s, %d train / %d val crops %dx%dx%d; NumPy on the CPU, one BLAS thread; %d epochs",
        spec["name"], arch["hidden"], len(data.train.y_np), len(data.val.y_np), data.size, data.size,
        data.channels, train_spec["epochs"],
    )  # fmt: skip
    # One BLAS thread whatever the rule's --threads: a mini-batch's matrices are too small for threads
    # to pay. Measured on the 2-core machine with another job running: [512, 256] on digits took
    # 10 CPU s with 2 OpenBLAS threads (they spin waiting for the busy core) against 0.64 s with 1.
    # The weights do not depend on it (OpenBLAS splits rows, not sums).
    with threadpool_limits(1):
        fit = train(
            x_train, data.train.y_np, x_val, data.val.y_np, arch, train_spec, spec["seed"], on_epoch,
            n_classes=len(data.classes), val_metrics=val_metrics,
        )  # fmt: skip
    seconds = sum(row["seconds"] for row in fit.history)
    checkpoint = build_checkpoint(spec, data, fit, seconds)
    ckpt_io.save_checkpoint(paths.checkpoint, checkpoint)
    write_history(paths.history, fit.history)
    write_latent(paths.latent, latent, data.val.y_np)
    from maskflow.io.atomic import write_text
    from maskflow.models.summary import architecture_path, numpy_mlp_table  # no torch either

    table = numpy_mlp_table(arch, data.channels, data.size, len(data.classes))
    write_text(architecture_path(paths.checkpoint), table)
    paths.resume.unlink(missing_ok=True)
    log.info(
        "done: %d epochs in %.1fs; weights of epoch %d, val_loss %.4f val_acc %.4f",
        len(fit.history), seconds, fit.best_epoch,
        checkpoint["val_metrics"]["loss"], checkpoint["val_metrics"]["accuracy"],
    )  # fmt: skip
    return checkpoint


def run(spec: dict, args) -> dict:
    """`maskflow train` for `numpy_mlp` (the registry's trainer, maskflow.training.command): loads
    the cached arrays as NumPy arrays and trains, on the CPU whatever `device` says."""

    from maskflow.training.command import Paths
    from maskflow.training.data import load_data

    if spec.get("device") == "cuda":
        log.warning("%s: numpy_mlp trains with NumPy on the CPU; device: cuda does not apply", spec["name"])
    classes = json_option(args.classes, "--classes", list) if args.classes else None
    data = load_data(args.cache_dir, args.normalization, classes, device=None)
    return train_cached(spec, data, Paths.of(args), args.threads)


def _demo() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.reshape(-1, 1, 8, 8) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.5, stratify=digits.target, random_state=0
    )
    arch = {"type": "numpy_mlp", "hidden": [64, 32], "activation": "relu"}
    spec = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 32, "epochs": 30}
    fit = train(x_train, y_train, x_test, y_test, arch, spec, seed=1)
    for row in fit.history:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    _demo()
