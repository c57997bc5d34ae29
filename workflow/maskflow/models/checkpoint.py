"""Checkpoints: save, load and verify them.

    model, ckpt = load_model("results/masks/models/cnn_baseline/checkpoint.pt", "cpu")
    verify_data(ckpt, {"val_x": sha256_file("results/masks/cache/val_x.npy")}, normalization)
    proba = maskflow.inference.predict_proba(model, ckpt, val_x_uint8, "cpu")   # N x K float64

A checkpoint is a dict (docs/contracts.md): weights plus everything needed to use them again
(class names, normalization, image size, resolved config, seed, versions, checksums of the
arrays it was trained on). Inference on them goes through `maskflow.inference`, the one path
that training's validation also takes, which is why a reloaded model reproduces the logged
metrics exactly.

The resume state (`save_resume`/`load_resume`) is a larger dict written beside it each epoch.
"""

from __future__ import annotations

import logging
import pickle
import platform
from pathlib import Path

import numpy as np
import torch

import maskflow
from maskflow.errors import CheckpointError
from maskflow.io.atomic import atomic_path
from maskflow.runtime.device import place

log = logging.getLogger(__name__)

FORMAT = "maskflow-checkpoint/1"
RESUME_FORMAT = "maskflow-resume/1"
# The normalization fields that must agree between a checkpoint and the arrays it is applied to.
NORMALIZATION_KEYS = ("mean", "std", "scale", "channels", "size", "train_sha256")


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "maskflow": maskflow.__version__,
    }


def save_checkpoint(path: str | Path, checkpoint: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def _load(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    try:
        # weights_only: a checkpoint holds tensors and plain values, never code to run.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for truncated or foreign files
        # One line: torch's unpickling message runs over several and advises weights_only=False.
        detail = (
            str(error).strip().splitlines()[0]
            if not isinstance(error, pickle.UnpicklingError)
            else "not a torch file of tensors"
        )
        raise CheckpointError(f"{path}: not a readable {what} ({type(error).__name__}: {detail})") from None


def load_checkpoint(path: str | Path) -> dict:
    checkpoint = _load(path, "checkpoint")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path}: not a maskflow checkpoint (format {found!r}, expected {FORMAT!r})")
    checkpoint["path"] = str(path)
    return checkpoint


def verify_data(checkpoint: dict, arrays_sha: dict[str, str], normalization: dict | None = None) -> None:
    """Refuse arrays or a normalization other than the ones the checkpoint was trained with.

    `arrays_sha` maps array names (`train_x`, `val_y`, ...) to sha256 hex; names the checkpoint
    does not record (the test split) are checked through the normalization's `train_sha256`."""
    where = checkpoint.get("path", "checkpoint")
    trained = checkpoint["data_sha256"]
    for name, sha in sorted(arrays_sha.items()):
        if name in trained and trained[name] != sha:
            raise CheckpointError(
                f"{where}: trained on {name}.npy with sha256 {trained[name][:12]}..., but the array given has "
                f"{sha[:12]}...: the cache was rebuilt after training; retrain the model (Snakemake does this)"
            )
    if normalization is None:
        return
    saved = checkpoint["normalization"]
    differing = [key for key in NORMALIZATION_KEYS if saved.get(key) != normalization.get(key)]
    if differing:
        details = "; ".join(
            f"{key}: checkpoint {saved.get(key)!r}, given {normalization.get(key)!r}" for key in differing
        )
        raise CheckpointError(f"{where}: normalization differs from the one the model was trained with ({details})")


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The checkpoint's model with its weights, on `device`, in eval mode, and the checkpoint."""
    from maskflow.models import build_model

    checkpoint = load_checkpoint(path)
    image = checkpoint["image"]
    model = build_model(checkpoint["arch"], image["channels"], image["size"], len(checkpoint["classes"]))
    try:
        model.load_state_dict(checkpoint["model_state"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit the recorded architecture ({error})") from None
    return place(model, device).eval(), checkpoint


def save_resume(path: str | Path, state: dict) -> None:
    save_checkpoint(path, {"format": RESUME_FORMAT, **state})


def load_resume(path: str | Path, fingerprint: str) -> dict | None:
    """The resume state at `path` if it belongs to this config and data; None (logged) otherwise."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = _load(path, "resume state")
    except CheckpointError as error:
        log.warning("%s; starting over", error)
        return None
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        log.warning("%s: not a maskflow resume state; starting over", path)
        return None
    if state.get("fingerprint") != fingerprint:
        log.warning(
            "%s was saved for another config or other data (fingerprint %s, now %s); starting over",
            path,
            state.get("fingerprint"),
            fingerprint,
        )
        return None
    return state
