"""The torch training loop's pieces: one run's state, one epoch, evaluation and safe stopping.

    run = Run(spec, model, optimizer, scheduler, amp, generators, stopper, fingerprint)
    with StopSignals() as stop:                 # SIGTERM / Ctrl-C -> Interrupted at the next mini-batch
        loss, acc = train_one_epoch(model, data.train, order, batch_size, normalizer, augmenter,
                                    criterion, optimizer, amp, stop)
    val = evaluate(model, data.val, normalizer)     # {"loss": ..., "accuracy": ...}
    ckpt_io.save_resume(path, {"fingerprint": run.fingerprint, **run.state_dict()})

The torch trainer (maskflow.training.torch_trainer) drives these epoch by epoch and saves `Run.state_dict()` as
the resume state after each one. `evaluate` and `features` go through the same inference path
as maskflow.models.checkpoint, so the numpy_mlp trainer uses them too.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from maskflow import inference
from maskflow.runtime.device import MixedPrecision
from maskflow.training.augment import Augmenter
from maskflow.training.data import Split
from maskflow.training.optim import EarlyStopping


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
    fingerprint: dict[str, str]  # settings, data -> hash: a resume state is used only by the run it was saved for
    history: list[dict] = field(default_factory=list)
    latent: dict[int, torch.Tensor] = field(default_factory=dict)
    epoch: int = 0
    stopped: bool = False
    train_seconds: float = 0.0
    # train.compile: the module the training steps run (maskflow.training.compiled); None: `model`
    compiled: nn.Module | None = None

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


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Mini-batch (start, end) pairs; a last batch of one sample joins the previous one,
    because batch norm cannot normalise a single sample in training mode."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def train_one_epoch(
    model: nn.Module,
    split: Split,
    order: torch.Tensor,
    batch_size: int,
    normalizer: inference.Normalizer,
    augmenter: Augmenter,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    amp: MixedPrecision,
    stop: StopSignals | None = None,
) -> tuple[float, float]:
    """One pass over `order`; returns the mean training loss and accuracy of its batches."""
    model.train()
    device = split.x.device
    order = order.to(device, non_blocking=True)
    bounds = batch_bounds(len(order), batch_size)
    # Each batch's loss and hits stay on the device, one small write each (reading them every
    # batch would synchronise a GPU each time); they are summed once, after the epoch.
    losses = torch.empty(len(bounds), dtype=torch.float32, device=device)
    hits = torch.empty(len(bounds), dtype=torch.int64, device=device)
    for i, (start, end) in enumerate(bounds):
        if stop:
            stop.check()
        index = order[start:end]
        x, y = split.x[index], split.y[index]
        if augmenter.enabled:
            # flips move uint8 pixels (exact), the rest works on floats in [0, 1]
            x = augmenter.after_flips(normalizer.unit(augmenter.flips(x)))
        else:
            x = normalizer.unit(x)
        x = normalizer.normalize(x)
        with amp.autocast():
            logits = model(x)
            loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        amp.scaler.scale(loss).backward()
        amp.scaler.step(optimizer)
        amp.scaler.update()
        losses[i] = loss.detach()
        hits[i] = (logits.detach().argmax(1) == y).sum()
    # The mean loss adds batch by batch in float64, in batch order, as a running sum would.
    total = 0.0
    for value, (start, end) in zip(losses.tolist(), bounds):
        total += value * (end - start)
    return total / len(order), int(hits.sum()) / len(order)


def evaluate(model: nn.Module, split: Split, normalizer: inference.Normalizer) -> dict[str, float]:
    """Validation loss and accuracy through the same path as `maskflow.inference.predict_proba`."""
    model.eval()
    if len(split.y) == 0:
        return inference.proba_metrics(np.zeros((0, 0)), split.y_np)
    proba = inference.probabilities(inference.forward_in_batches(model, split.x, normalizer))
    return inference.proba_metrics(proba, split.y_np)


def features(model: nn.Module, split: Split, normalizer: inference.Normalizer) -> torch.Tensor:
    model.eval()
    return inference.forward_in_batches(model.features, split.x, normalizer).cpu()
