"""The torch trainer: train one torch model from the cached arrays, reproducibly and resumably.

    maskflow train --spec '{"name": "cnn", "seed": 1, "arch": {...}, "train": {...}}' \
        --cache-dir results/masks/cache --normalization results/masks/stats/normalization.json \
        --checkpoint results/masks/models/cnn/checkpoint.pt --history results/masks/models/cnn/history.csv \
        --latent results/masks/models/cnn/latent.npz --resume results/masks/models/cnn/resume.pt \
        --architecture results/masks/models/cnn/architecture.txt --threads 2

The `maskflow train` command (maskflow.training.command) parses that, resolves the spec once and
calls `run(spec, args)` here for every type without a trainer of its own. The uint8
arrays are loaded once onto the training device; each mini-batch is taken by indexing them,
converted to float, augmented and normalised there. Every source of randomness is seeded:
torch's global generator (initial weights, dropout, rrelu) and two CPU generators (epoch order
and augmentation), so the same config and seed give the same history and weights.

After every epoch the checkpoint, history and a resume state are written atomically. SIGTERM
or Ctrl-C stop at the next mini-batch and exit non-zero (143 / 130); the next run with the
same --resume path continues after the last complete epoch and ends with the same weights as
an uninterrupted run. A resume state saved for another config or other data is not used.

This module builds a run and drives it epoch by epoch; the command imports it only for torch
model types (a NumPy model is trained without importing torch). Its parts live beside it:
maskflow.training.data (the cached arrays), maskflow.training.optim (optimizer, schedule, early
stopping, loss), maskflow.training.loop (the run's state, one epoch, evaluation, stop signals)
and maskflow.training.outputs (checkpoint, history, latent, shared with the NumPy trainer).
"""

from __future__ import annotations

import argparse
import logging
import time

import torch

from maskflow import inference
from maskflow.errors import ConfigError
from maskflow.io import atomic
from maskflow.io.hashing import derived_seed, fingerprint
from maskflow.models import build_model
from maskflow.models import checkpoint as ckpt_io
from maskflow.models.init import initialise
from maskflow.models.summary import summary_table
from maskflow.options import json_option
from maskflow.runtime.device import MixedPrecision, configure, describe, place, resolve_device
from maskflow.training.augment import Augmenter
from maskflow.training.data import Data, load_data
from maskflow.training.loop import Interrupted, Run, StopSignals, evaluate, features, train_one_epoch
from maskflow.training.optim import OPTIMIZERS, SCHEDULES, CrossEntropy, EarlyStopping
from maskflow.training.outputs import Paths, checkpoint_dict, write_history, write_latent
from maskflow.training.sampling import EpochSampler, loss_weights

log = logging.getLogger("maskflow.training.train")  # the command's logger (maskflow.training.data)


def build_checkpoint(run: Run, data: Data, complete: bool = False) -> dict:
    """The checkpoint dict of a run's weights to hand on (maskflow.training.outputs.checkpoint_dict)."""
    state, weights_epoch = run.output_state()
    return checkpoint_dict(
        run.spec,
        data,
        {k: v.detach().cpu() for k, v in state.items()},
        history=run.history,
        epoch=run.epoch,
        best_epoch=weights_epoch,
        complete=complete,
        device=describe(data.train.x.device),
        versions=ckpt_io.versions(),
        train_seconds=run.train_seconds,
        param_count=sum(p.numel() for p in run.model.parameters()),
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


def fit(run: Run, data: Data, paths: Paths, stop: StopSignals | None = None) -> None:
    """Train from `run.epoch` until the last epoch or early stopping, saving after each epoch."""
    t = run.spec["train"]
    device = data.train.x.device
    normalizer = inference.Normalizer(data.normalization, device)
    augmenter = Augmenter(t["augment"], run.generators["augment"])
    sampler = EpochSampler(
        t["imbalance"], data.train.y_np, data.classes, run.generators["order"], seed=run.spec["seed"], epoch=run.epoch
    )
    weights = loss_weights(t["imbalance"], data.train.y_np, data.classes)
    criterion = CrossEntropy(weights, t["label_smoothing"], len(data.classes)).to(device)
    latent_epochs = set(t["latent_epochs"])
    while run.epoch < t["epochs"] and not run.stopped:
        started = time.perf_counter()
        epoch = run.epoch + 1
        lr = run.optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train_one_epoch(
            run.model if run.compiled is None else run.compiled,
            data.train,
            sampler.epoch(),
            t["batch_size"],
            normalizer,
            augmenter,
            criterion,
            run.optimizer,
            run.amp,
            stop,
        )
        val = evaluate(run.model, data.val, normalizer)
        if run.scheduler:
            run.scheduler.step()
        if epoch in latent_epochs and len(data.val.y):
            run.latent[epoch] = features(run.model, data.val, normalizer)
        seconds = time.perf_counter() - started
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val["loss"],
            "val_acc": val["accuracy"],
            "lr": lr,
            "seconds": round(seconds, 3),
            "time": time.time(),  # the epoch's end, for the run history (not a history.csv column)
        }
        run.history.append(row)
        run.stopped = bool(run.stopper and run.stopper.update(epoch, row, run.model))
        run.epoch, run.train_seconds = epoch, run.train_seconds + seconds
        ckpt_io.save_checkpoint(paths.checkpoint, build_checkpoint(run, data))
        write_history(paths.history, run.history)
        ckpt_io.save_resume(paths.resume, {"fingerprint": run.fingerprint, **run.state_dict()})
        log.info(progress_line(row, t["epochs"], run))
        if run.stopped:
            log.info(
                "early stopping after epoch %d: %s has not improved for %d epochs (best %.4f at epoch %d)%s",
                epoch,
                run.stopper.monitor,
                run.stopper.patience,
                run.stopper.best,
                run.stopper.best_epoch,
                "; restoring its weights" if run.stopper.restore_best else "",
            )


def finish(run: Run, data: Data, paths: Paths) -> dict:
    """Final outputs: checkpoint with the handed-on weights, history, latent; resume state removed."""
    state, weights_epoch = run.output_state()
    run.model.load_state_dict(state)
    if run.spec["arch"].get("bottleneck") and not run.latent and len(data.val.y):
        # A bottleneck model exists to be plotted: snapshot its final weights when no epoch was asked.
        run.latent[weights_epoch] = features(
            run.model, data.val, inference.Normalizer(data.normalization, data.val.x.device)
        )
    checkpoint = build_checkpoint(run, data, complete=True)
    ckpt_io.save_checkpoint(paths.checkpoint, checkpoint)
    write_history(paths.history, run.history)
    write_latent(paths.latent, {epoch: features.numpy() for epoch, features in run.latent.items()}, data.val.y_np)
    paths.resume.unlink(missing_ok=True)
    return checkpoint


def prepare(spec: dict, data: Data, device: torch.device, fingerprint: dict[str, str]) -> Run:
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
    compiled = None
    if t.get("compile"):
        from maskflow.training.compiled import for_training  # imports torch's compiler stack only when asked

        compiled = for_training(model, device, f"models.{spec['name']}.train.compile")
    return Run(
        spec=spec,
        model=model,
        compiled=compiled,
        optimizer=optimizer,
        scheduler=SCHEDULES[t["schedule"]["type"]](optimizer, t),
        amp=MixedPrecision.for_device(device, t["mixed_precision"]),
        generators=generators,
        stopper=stopper,
        fingerprint=fingerprint,
    )


def run(spec: dict, args: argparse.Namespace) -> dict:
    """Train the resolved model `spec` (maskflow.training.command.resolve_spec) as the command's
    `args` say (cache, normalization, output paths, threads, classes); returns the checkpoint dict."""
    device = resolve_device(spec["device"])
    if device.type == "cuda":
        # Concurrent local train jobs each take their own card (Snakemake sets no
        # CUDA_VISIBLE_DEVICES); under SLURM --gpus the scheduler has chosen and this is "cuda".
        from maskflow.runtime.gpu_slots import claim_gpu

        device = torch.device(claim_gpu())
    configure(device, args.threads)
    classes = json_option(args.classes, "--classes", list) if args.classes else None
    data = load_data(args.cache_dir, args.normalization, classes, device)
    # two parts, so that a resume state saved for another run can say which of them changed
    resume_key = {
        "settings": fingerprint(spec),
        "data": fingerprint({"data": data.sha256, "normalization": data.normalization, "classes": data.classes}),
    }
    paths = Paths.of(args)
    training = prepare(spec, data, device, resume_key)
    atomic.write_text(paths.architecture, summary_table(training.model, data.channels, data.size))
    log.info(
        "training %s: %s, %d parameters; %d train / %d val crops %dx%dx%d; device %s; mixed precision %s; %d epochs%s",
        spec["name"],
        spec["arch"]["type"],
        sum(p.numel() for p in training.model.parameters()),
        len(data.train.y),
        len(data.val.y),
        data.size,
        data.size,
        data.channels,
        describe(device),
        training.amp.describe(),
        spec["train"]["epochs"],
        "; torch.compile (the first epoch compiles)" if training.compiled is not None else "",
    )
    state = ckpt_io.load_resume(paths.resume, resume_key)
    if state is not None:
        training.load_state_dict(state)
        log.info("resuming from %s after epoch %d", paths.resume, training.epoch)
    try:
        with StopSignals() as stop:
            fit(training, data, paths, stop)
    except Interrupted as interrupt:
        log.error(
            "stopped by %s during epoch %d; %s; run the same command again to continue",
            interrupt,
            training.epoch + 1,
            f"resume state after epoch {training.epoch} is in {paths.resume}"
            if training.epoch
            else "no epoch was complete",
        )
        raise SystemExit(128 + interrupt.signum) from None
    checkpoint = finish(training, data, paths)
    log.info(
        "done: %d epochs in %.1fs; weights of epoch %d, val_loss %.4f val_acc %.4f",
        training.epoch,
        training.train_seconds,
        checkpoint["best_epoch"],
        checkpoint["val_metrics"]["loss"],
        checkpoint["val_metrics"]["accuracy"],
    )
    return checkpoint
