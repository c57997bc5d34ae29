"""`maskflow train`: train one model from the cached arrays, reproducibly and resumably.

    maskflow train --spec '{"name": "cnn", "seed": 1, "arch": {...}, "train": {...}}' \
        --cache-dir results/masks/cache --normalization results/masks/stats/normalization.json \
        --checkpoint results/masks/models/cnn/checkpoint.pt --history results/masks/models/cnn/history.csv \
        --latent results/masks/models/cnn/latent.npz --resume results/masks/models/cnn/resume.pt --threads 2

The Snakemake rule `train` runs this with one resolved model (maskflow.config). The uint8
arrays are loaded once onto the training device; each mini-batch is taken by indexing them,
converted to float, augmented and normalised there. Every source of randomness is seeded:
torch's global generator (initial weights, dropout, rrelu) and two CPU generators (epoch order
and augmentation), so the same config and seed give the same history and weights.

After every epoch the checkpoint, history and a resume state are written atomically. SIGTERM
or Ctrl-C stop at the next mini-batch and exit non-zero (143 / 130); the next run with the
same --resume path continues after the last complete epoch and ends with the same weights as
an uninterrupted run. A resume state saved for another config or other data is not used.
"""

from __future__ import annotations

import os

# Set before torch loads OpenMP: idle OpenMP threads then sleep instead of spinning. When
# several jobs share a few cores (snakemake --cores 8 on a 2-core laptop), spinning threads
# steal the cores the others compute on: a training step measured 20x slower here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import hashlib
import json
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from maskflow import checkpoint as ckpt_io
from maskflow import integrity
from maskflow.atomic import atomic_path, sha256_file, write_csv
from maskflow.augment import Augmenter
from maskflow.config import EARLY_STOPPING_DEFAULTS, TRAIN_DEFAULTS, deep_merge, fingerprint
from maskflow.device import MixedPrecision, configure, describe, place, resolve_device
from maskflow.errors import ConfigError, DataError
from maskflow.models import REGISTRY, build_model, check_arch, imported
from maskflow.models.init import initialise
from maskflow.sampling import EpochSampler, loss_weights

log = logging.getLogger("maskflow.train")

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
ARRAYS = ("train_x", "train_y", "val_x", "val_y")


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


# ---------------------------------------------------------------------------------- the spec


def resolve_spec(text: str) -> dict:
    """The --spec JSON with train defaults filled in (a hand-written spec may leave them out)."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"--spec: not valid JSON ({error})") from None
    name = spec.setdefault("name", "model")
    try:
        spec["arch"] = check_arch(spec.get("arch"))
    except ConfigError as error:
        raise ConfigError(f"models.{name}.arch: {error}") from None
    train = deep_merge(TRAIN_DEFAULTS, spec.get("train") or {})
    if train["early_stopping"] is not None:
        train["early_stopping"] = deep_merge(EARLY_STOPPING_DEFAULTS, train["early_stopping"])
    if train["optimizer"] == "sgd" and train["nesterov"] and train["momentum"] <= 0:
        raise ConfigError(f"models.{name}.train.nesterov: needs momentum > 0 (momentum is {train['momentum']})")
    spec["train"] = train
    spec.setdefault("seed", 1)
    spec.setdefault("device", "auto")
    return spec


def derived_seed(seed: int, purpose: str) -> int:
    """Independent, stable seeds per purpose (epoch order, augmentation) from the model's seed."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "little") >> 1


# ---------------------------------------------------------------------------------- the data


@dataclass
class Split:
    x: torch.Tensor  # uint8 N x C x H x W on the training device
    y: torch.Tensor  # int64 N on the training device
    y_np: np.ndarray


@dataclass
class Data:
    train: Split
    val: Split
    classes: list[str]
    normalization: dict
    sha256: dict[str, str]
    size: int
    channels: int


def _load_split(cache_dir: Path, split: str, classes: list[str], seal, device: torch.device) -> Split:
    cached = integrity.load_split(cache_dir, split, classes=classes, seal=seal, index=False)
    return Split(ckpt_io.as_nchw(cached.x, device), torch.from_numpy(cached.y).to(device), cached.y)


def read_classes(cache_dir: Path) -> list[str]:
    """Class names from the cache's index files (label, label_index) when --classes is not given."""
    names: dict[int, str] = {}
    for split in ("train", "val"):
        path = cache_dir / f"{split}_index.csv"
        if path.is_file():
            index = pd.read_csv(path, usecols=["label", "label_index"])
            names.update(zip(index["label_index"].astype(int), index["label"].astype(str)))
    if not names:
        raise DataError(f"{cache_dir}: no train_index.csv / val_index.csv to read class names from; pass --classes")
    missing = [i for i in range(max(names) + 1) if i not in names]
    if missing:
        log.warning("classes %s have no crops in train or val; named class%s", missing, missing[0])
    return [names.get(i, f"class{i}") for i in range(max(names) + 1)]


def load_normalization(path: Path, x: torch.Tensor, train_sha: str) -> dict:
    try:
        normalization = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: not found (the stats stage writes it)") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    channels, size = x.shape[1], x.shape[2]
    for key in ("mean", "std"):
        values = normalization.get(key)
        if not isinstance(values, list) or len(values) != channels:
            raise DataError(f"{path}: {key!r} must list {channels} numbers (one per channel of the crops), got {values!r}")
    if any(s <= 0 for s in normalization["std"]):
        raise DataError(f"{path}: every std must be > 0, got {normalization['std']}")
    if normalization.get("train_sha256") not in (None, train_sha):
        raise DataError(
            f"{path}: computed on a train_x.npy with sha256 {normalization['train_sha256'][:12]}..., but the cache "
            f"holds {train_sha[:12]}...: rerun the stats stage"
        )
    return {**normalization, "channels": channels, "size": size, "train_sha256": train_sha}


def load_data(cache_dir: Path, normalization_path: Path, classes: list[str] | None, device: torch.device) -> Data:
    classes = classes or read_classes(cache_dir)
    sha256 = {name: sha256_file(cache_dir / f"{name}.npy") for name in ARRAYS if (cache_dir / f"{name}.npy").is_file()}
    seal = integrity.read_seal(normalization_path) if normalization_path.is_file() else None
    train = _load_split(cache_dir, "train", classes, seal, device)
    val = _load_split(cache_dir, "val", classes, seal, device)
    if len(train.y) == 0:
        raise DataError(f"{cache_dir / 'train_x.npy'}: the train split is empty; nothing to train on")
    if val.x.shape[1:] != train.x.shape[1:] and len(val.y):
        raise DataError(f"{cache_dir / 'val_x.npy'}: crops are {tuple(val.x.shape[1:])}, train crops {tuple(train.x.shape[1:])}")
    normalization = load_normalization(normalization_path, train.x, sha256["train_x"])
    return Data(train, val, list(classes), normalization, sha256, train.x.shape[2], train.x.shape[1])


# ---------------------------------------------------------------------- optimisation pieces


# optimizer name -> builder(params, train spec). All use the fused kernel (one kernel updates
# every parameter tensor, on CPU and CUDA alike): a step of the default MLP took 1.6 ms with
# the per-tensor loop and 0.3 ms fused on 2 CPU cores (bench/train_epoch.py shows the epoch).
OPTIMIZERS = {
    "sgd": lambda params, t: torch.optim.SGD(
        params, lr=t["lr"], momentum=t["momentum"], nesterov=t["nesterov"], weight_decay=t["weight_decay"], fused=True
    ),
    "adam": lambda params, t: torch.optim.Adam(params, lr=t["lr"], weight_decay=t["weight_decay"], fused=True),
    "adamw": lambda params, t: torch.optim.AdamW(params, lr=t["lr"], weight_decay=t["weight_decay"], fused=True),
}

# schedule type -> scheduler stepped once per epoch (None: constant learning rate)
SCHEDULES = {
    "none": lambda optimizer, t: None,
    "step": lambda optimizer, t: torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=t["schedule"].get("every", 10), gamma=t["schedule"].get("factor", 0.1)
    ),
    "cosine": lambda optimizer, t: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t["epochs"]),
}

# monitor -> (is `new` better than `best`?, starting value)
MONITORS = {
    "val_loss": (lambda new, best: new < best, float("inf")),
    "val_acc": (lambda new, best: new > best, float("-inf")),
}


class EarlyStopping:
    """Stop after `patience` epochs without improvement of `monitor`; keep the best weights."""

    def __init__(self, monitor: str, patience: int, restore_best: bool):
        self.monitor, self.patience, self.restore_best = monitor, patience, restore_best
        self.better, self.best = MONITORS[monitor]
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.waited = 0

    def update(self, epoch: int, row: dict, model: nn.Module) -> bool:
        """Record `epoch`'s metrics; True when training should stop."""
        if self.better(row[self.monitor], self.best):
            self.best, self.best_epoch, self.waited = row[self.monitor], epoch, 0
            if self.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.waited += 1
        return self.waited >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state, "waited": self.waited}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.best_state, self.waited = (
            state["best"], state["best_epoch"], state["best_state"], state["waited"]
        )


class CrossEntropy(nn.Module):
    """Cross-entropy with class weights and label smoothing, as `nn.CrossEntropyLoss` defines it.

    Written with a one-hot product instead of `nll_loss` because PyTorch's CUDA NLL kernels
    accumulate with atomics, which `use_deterministic_algorithms` refuses or cannot make exact."""

    def __init__(self, weight: torch.Tensor | None, label_smoothing: float, num_classes: int):
        super().__init__()
        self.register_buffer("weight", torch.ones(num_classes) if weight is None else weight.float())
        self.smoothing, self.num_classes = label_smoothing, num_classes

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(logits.float(), dim=1)
        one_hot = F.one_hot(y, self.num_classes).float()
        sample_weight = one_hot @ self.weight
        target = -(one_hot * log_p).sum(1) * sample_weight
        smooth = -(log_p * self.weight).sum(1) / self.num_classes
        return ((1 - self.smoothing) * target + self.smoothing * smooth).sum() / sample_weight.sum()


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Mini-batch (start, end) pairs; a last batch of one sample joins the previous one,
    because batch norm cannot normalise a single sample in training mode."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


# ------------------------------------------------------------------------- the training run


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """While active, SIGTERM and SIGINT only set a flag; `check()` raises Interrupted at a safe point."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: int | None = None
        self.previous: dict = {}

    def _handle(self, signum, frame):
        self.received = signum

    def __enter__(self):
        for signum in self.SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def check(self) -> None:
        if self.received is not None:
            raise Interrupted(self.received)


@dataclass
class Run:
    """Everything one training run changes, which is what the resume state saves."""

    spec: dict
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object | None
    amp: MixedPrecision
    generators: dict[str, torch.Generator]
    stopper: EarlyStopping | None
    fingerprint: str  # of spec + data: a resume state is used only by the run it was saved for
    history: list[dict] = field(default_factory=list)
    latent: dict[int, torch.Tensor] = field(default_factory=dict)
    epoch: int = 0
    stopped: bool = False
    train_seconds: float = 0.0

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.amp.scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                **{name: g.get_state() for name, g in self.generators.items()},
            },
            "stopper": self.stopper.state_dict() if self.stopper else None,
            "history": self.history,
            "latent": self.latent,
            "epoch": self.epoch,
            "stopped": self.stopped,
            "train_seconds": self.train_seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            self.amp.scaler.load_state_dict(state["scaler"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        for name, generator in self.generators.items():
            generator.set_state(rng[name])
        if self.stopper:
            self.stopper.load_state_dict(state["stopper"])
        self.history, self.latent = state["history"], state["latent"]
        self.epoch, self.stopped, self.train_seconds = state["epoch"], state["stopped"], state["train_seconds"]

    def output_state(self) -> tuple[dict, int]:
        """The weights training hands on (the best epoch's when restoring) and their epoch."""
        if self.stopper and self.stopper.restore_best and self.stopper.best_state is not None:
            return self.stopper.best_state, self.stopper.best_epoch
        return self.model.state_dict(), self.epoch


def train_one_epoch(
    model: nn.Module,
    split: Split,
    order: torch.Tensor,
    batch_size: int,
    normalizer: ckpt_io.Normalizer,
    augmenter: Augmenter,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    amp: MixedPrecision,
    stop: StopSignals | None = None,
) -> tuple[float, float]:
    """One pass over `order`; returns the mean training loss and accuracy of its batches."""
    model.train()
    order = order.to(split.x.device, non_blocking=True)
    # Sums stay on the device: reading them every batch would synchronise a GPU each time.
    loss_sum = torch.zeros((), dtype=torch.float64, device=split.x.device)
    correct = torch.zeros((), dtype=torch.int64, device=split.x.device)
    for start, end in batch_bounds(len(order), batch_size):
        if stop:
            stop.check()
        index = order[start:end]
        x, y = normalizer.unit(split.x[index]), split.y[index]
        if augmenter.enabled:
            x = augmenter(x)
        x = normalizer.normalize(x)
        with amp.autocast():
            logits = model(x)
            loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        amp.scaler.scale(loss).backward()
        amp.scaler.step(optimizer)
        amp.scaler.update()
        loss_sum += loss.detach().double() * (end - start)
        correct += (logits.detach().argmax(1) == y).sum()
    return float(loss_sum) / len(order), int(correct) / len(order)


def evaluate(model: nn.Module, split: Split, normalizer: ckpt_io.Normalizer) -> dict[str, float]:
    """Validation loss and accuracy through the same path as `checkpoint.predict_proba`."""
    model.eval()
    if len(split.y) == 0:
        return ckpt_io.proba_metrics(np.zeros((0, 0)), split.y_np)
    proba = ckpt_io.probabilities(ckpt_io.forward_in_batches(model, split.x, normalizer))
    return ckpt_io.proba_metrics(proba, split.y_np)


def features(model: nn.Module, split: Split, normalizer: ckpt_io.Normalizer) -> torch.Tensor:
    model.eval()
    return ckpt_io.forward_in_batches(model.features, split.x, normalizer).cpu()


# --------------------------------------------------------------------------------- outputs


def build_checkpoint(run: Run, data: Data, arch: dict, complete: bool = False) -> dict:
    device = data.train.x.device
    state, weights_epoch = run.output_state()
    row = next((r for r in run.history if r["epoch"] == weights_epoch), None)
    model_state = {k: v.detach().cpu() for k, v in state.items()}
    return {
        "format": ckpt_io.FORMAT,
        "model_state": model_state,
        # Checked by maskflow.integrity.check_checkpoint: a per-epoch save is not a finished
        # model, and torch loads a damaged tensor without complaint.
        "complete": complete,
        "weights_sha256": integrity.state_sha256(model_state),
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
    }


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


def progress_line(row: dict, epochs: int, run: Run) -> str:
    done = len(run.history)
    mean_seconds = sum(r["seconds"] for r in run.history) / done
    eta = 0.0 if run.stopped else mean_seconds * (epochs - row["epoch"])
    return (
        f"epoch {row['epoch']}/{epochs} train_loss {row['train_loss']:.4f} train_acc {row['train_acc']:.4f} "
        f"val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f} lr {row['lr']:.3g} "
        f"{row['seconds']:.1f}s ETA {int(eta) // 60}:{int(eta) % 60:02d}"
    )


# ------------------------------------------------------------------------------ the command


@dataclass
class Paths:
    checkpoint: Path
    history: Path
    latent: Path
    resume: Path


def fit(run: Run, data: Data, paths: Paths, arch: dict, stop: StopSignals | None = None) -> None:
    """Train from `run.epoch` until the last epoch or early stopping, saving after each epoch."""
    t = run.spec["train"]
    device = data.train.x.device
    normalizer = ckpt_io.Normalizer(data.normalization, device)
    augmenter = Augmenter(t["augment"], run.generators["augment"])
    sampler = EpochSampler(t["imbalance"], data.train.y_np, data.classes, run.generators["order"])
    weights = loss_weights(t["imbalance"], data.train.y_np, data.classes)
    criterion = CrossEntropy(weights, t["label_smoothing"], len(data.classes)).to(device)
    latent_epochs = set(t["latent_epochs"])
    while run.epoch < t["epochs"] and not run.stopped:
        started = time.perf_counter()
        epoch = run.epoch + 1
        lr = run.optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train_one_epoch(
            run.model, data.train, sampler.epoch(), t["batch_size"], normalizer, augmenter,
            criterion, run.optimizer, run.amp, stop,
        )
        val = evaluate(run.model, data.val, normalizer)
        if run.scheduler:
            run.scheduler.step()
        if epoch in latent_epochs and len(data.val.y):
            run.latent[epoch] = features(run.model, data.val, normalizer)
        seconds = time.perf_counter() - started
        row = {
            "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val["loss"], "val_acc": val["accuracy"], "lr": lr, "seconds": round(seconds, 3),
        }
        run.history.append(row)
        run.stopped = bool(run.stopper and run.stopper.update(epoch, row, run.model))
        run.epoch, run.train_seconds = epoch, run.train_seconds + seconds
        ckpt_io.save_checkpoint(paths.checkpoint, build_checkpoint(run, data, arch))
        write_history(paths.history, run.history)
        ckpt_io.save_resume(paths.resume, {"fingerprint": run.fingerprint, **run.state_dict()})
        log.info(progress_line(row, t["epochs"], run))
        if run.stopped:
            log.info(
                "early stopping after epoch %d: %s has not improved for %d epochs (best %.4f at epoch %d)%s",
                epoch, run.stopper.monitor, run.stopper.patience, run.stopper.best, run.stopper.best_epoch,
                "; restoring its weights" if run.stopper.restore_best else "",
            )


def finish(run: Run, data: Data, paths: Paths, arch: dict) -> dict:
    """Final outputs: checkpoint with the handed-on weights, history, latent; resume state removed."""
    state, weights_epoch = run.output_state()
    run.model.load_state_dict(state)
    if arch.get("bottleneck") and not run.latent and len(data.val.y):
        # A bottleneck model exists to be plotted: snapshot its final weights when no epoch was asked.
        run.latent[weights_epoch] = features(run.model, data.val, ckpt_io.Normalizer(data.normalization, data.val.x.device))
    checkpoint = build_checkpoint(run, data, arch, complete=True)
    ckpt_io.save_checkpoint(paths.checkpoint, checkpoint)
    write_history(paths.history, run.history)
    write_latent(paths.latent, run.latent, data.val.y_np)
    paths.resume.unlink(missing_ok=True)
    return checkpoint


def prepare(spec: dict, data: Data, device: torch.device, fingerprint: str) -> Run:
    """A fresh run: model built and initialised from the seed, optimizer, schedule, generators."""
    t = spec["train"]
    torch.manual_seed(spec["seed"])
    model = place(initialise(build_model(spec["arch"], data.channels, data.size, len(data.classes)), t["init"]), device)
    optimizer = OPTIMIZERS[t["optimizer"]](model.parameters(), t)
    es = t["early_stopping"]
    stopper = EarlyStopping(es["monitor"], es["patience"], es["restore_best"]) if es else None
    if stopper and len(data.val.y) == 0:
        raise ConfigError(f"models.{spec['name']}.train.early_stopping: the val split is empty, nothing to monitor")
    generators = {
        purpose: torch.Generator().manual_seed(derived_seed(spec["seed"], purpose)) for purpose in ("order", "augment")
    }
    return Run(
        spec=spec,
        model=model,
        optimizer=optimizer,
        scheduler=SCHEDULES[t["schedule"]["type"]](optimizer, t),
        amp=MixedPrecision.for_device(device, t["mixed_precision"]),
        generators=generators,
        stopper=stopper,
        fingerprint=fingerprint,
    )


def run(args: argparse.Namespace) -> dict:
    spec = resolve_spec(args.spec)
    device = resolve_device(spec["device"])
    if device.type == "cuda":
        # Concurrent local train jobs each take their own card (Snakemake sets no
        # CUDA_VISIBLE_DEVICES); under SLURM --gres the scheduler has chosen and this is "cuda".
        from maskflow.gpu_slots import claim_gpu

        device = torch.device(claim_gpu())
    configure(device, args.threads)
    classes = json.loads(args.classes) if args.classes else None
    data = load_data(args.cache_dir, args.normalization, classes, device)
    resume_key = fingerprint(
        {"spec": spec, "data": data.sha256, "normalization": data.normalization, "classes": data.classes}
    )
    paths = Paths(args.checkpoint, args.history, args.latent, args.resume)
    own_trainer = REGISTRY[spec["arch"]["type"]].trainer
    if own_trainer:  # a type with its own training loop (numpy_mlp) writes the same outputs
        return imported(own_trainer)(spec, data, paths, args.threads)
    training = prepare(spec, data, device, resume_key)
    log.info(
        "training %s: %s, %d parameters; %d train / %d val crops %dx%dx%d; device %s; mixed precision %s; %d epochs",
        spec["name"], spec["arch"]["type"], sum(p.numel() for p in training.model.parameters()),
        len(data.train.y), len(data.val.y), data.size, data.size, data.channels, describe(device),
        training.amp.describe(), spec["train"]["epochs"],
    )
    state = ckpt_io.load_resume(paths.resume, resume_key)
    if state is not None:
        training.load_state_dict(state)
        log.info("resuming from %s after epoch %d", paths.resume, training.epoch)
    try:
        with StopSignals() as stop:
            fit(training, data, paths, spec["arch"], stop)
    except Interrupted as interrupt:
        log.error(
            "stopped by %s during epoch %d; %s; run the same command again to continue",
            interrupt, training.epoch + 1,
            f"resume state after epoch {training.epoch} is in {paths.resume}" if training.epoch else "no epoch was complete",
        )
        raise SystemExit(128 + interrupt.signum) from None
    checkpoint = finish(training, data, paths, spec["arch"])
    log.info(
        "done: %d epochs in %.1fs; weights of epoch %d, val_loss %.4f val_acc %.4f",
        training.epoch, training.train_seconds, checkpoint["best_epoch"],
        checkpoint["val_metrics"]["loss"], checkpoint["val_metrics"]["accuracy"],
    )
    return checkpoint
