"""Checkpoints: save, load and verify them, and the one inference path from uint8 crops.

    model, ckpt = load_model("results/masks/models/cnn_baseline/checkpoint.pt", "cpu")
    verify_data(ckpt, {"val_x": sha256_file("results/masks/cache/val_x.npy")}, normalization)
    proba = predict_proba(model, ckpt, val_x_uint8, "cpu")          # N x K float64

A checkpoint is a dict (docs/contracts.md): weights plus everything needed to use them again
(class names, normalization, image size, resolved config, seed, versions, checksums of the
arrays it was trained on). Training evaluates the validation split with the same functions
(`Normalizer`, `forward_in_batches`, `probabilities`, `proba_metrics`) as `predict_proba`,
with the same batch size, which is why a reloaded model reproduces the logged metrics exactly.

The resume state (`save_resume`/`load_resume`) is a larger dict written beside it each epoch.
"""

from __future__ import annotations

import logging
import pickle
import platform
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import maskflow
from maskflow.atomic import atomic_path
from maskflow.device import place
from maskflow.errors import CheckpointError

log = logging.getLogger(__name__)

FORMAT = "maskflow-checkpoint/1"
RESUME_FORMAT = "maskflow-resume/1"
EVAL_BATCH = 512
# The normalization fields that must agree between a checkpoint and the arrays it is applied to.
NORMALIZATION_KEYS = ("mean", "std", "scale", "channels", "size", "train_sha256")


class Normalizer:
    """uint8 N x C x H x W -> floats in [0, 1] (`unit`) -> `(x - mean) / std` (`normalize`).

    Augmentation runs between the two steps during training."""

    def __init__(self, normalization: dict, device: torch.device | str = "cpu"):
        shape = (1, len(normalization["mean"]), 1, 1)
        self.scale = float(normalization.get("scale", 255))
        self.mean = torch.tensor(normalization["mean"], dtype=torch.float32, device=device).view(shape)
        self.std = torch.tensor(normalization["std"], dtype=torch.float32, device=device).view(shape)

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(self.scale)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.unit(x))


def as_nchw(x: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Cached N x H x W x C uint8 arrays as an N x C x H x W uint8 tensor in channels-last
    memory: the cache's own layout (no copy), and the one the models run fastest on."""
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).to(device)


@torch.no_grad()
def forward_in_batches(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, normalizer: Normalizer, batch_size: int = EVAL_BATCH
) -> torch.Tensor:
    """`fn` (a model in eval mode, or its `features`) over uint8 NCHW `x`, in float32."""
    outputs = [fn(normalizer(x[start : start + batch_size])).float() for start in range(0, len(x), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def probabilities(logits: torch.Tensor) -> np.ndarray:
    # Softmax in float64, so probabilities sum to 1 to ~1e-16 in the prediction files.
    return torch.softmax(logits.detach().cpu().double(), dim=1).numpy()


def proba_metrics(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Cross-entropy (natural log, unweighted, no smoothing) and accuracy of probabilities."""
    if len(y) == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    picked = np.maximum(proba[np.arange(len(y)), y], np.finfo(np.float64).tiny)
    return {"loss": float(-np.log(picked).mean()), "accuracy": float((proba.argmax(1) == y).mean())}


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
        detail = str(error).strip().splitlines()[0] if not isinstance(error, pickle.UnpicklingError) else "not a torch file of tensors"
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
        details = "; ".join(f"{key}: checkpoint {saved.get(key)!r}, given {normalization.get(key)!r}" for key in differing)
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


def check_arrays(checkpoint: dict, x: np.ndarray) -> None:
    image = checkpoint["image"]
    expected = (image["size"], image["size"], image["channels"])
    if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise CheckpointError(
            f"{checkpoint.get('path', 'checkpoint')}: expects uint8 N x {' x '.join(map(str, expected))} crops, "
            f"got {x.dtype} {' x '.join(map(str, x.shape))}"
        )


def predict_proba(
    model: torch.nn.Module, checkpoint: dict, x_uint8: np.ndarray, device: torch.device | str = "cpu", batch_size: int = EVAL_BATCH
) -> np.ndarray:
    """Class probabilities (N x K float64) of cached-format crops, normalised as in training."""
    check_arrays(checkpoint, x_uint8)
    if len(x_uint8) == 0:
        return np.zeros((0, len(checkpoint["classes"])))
    model.eval()
    logits = forward_in_batches(model, as_nchw(x_uint8, device), Normalizer(checkpoint["normalization"], device), batch_size)
    return probabilities(logits)


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

