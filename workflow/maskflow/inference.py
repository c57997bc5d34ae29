"""The one inference path: cached-format uint8 crops -> class probabilities.

    from maskflow.inference import predict_proba
    proba = predict_proba(model, checkpoint, x_uint8, "cpu")      # N x K float64

Training evaluates its validation split with these same functions (`Normalizer`,
`forward_in_batches`, `probabilities`, `proba_metrics`) and the same batch size as evaluation,
prediction on new photos and the figures, which is why a reloaded model reproduces the logged
metrics exactly (and why there is no second preprocessing path to drift apart).

A NumPy checkpoint (`weights_format: numpy`, the `numpy_mlp` type) has its own branch, which the
NumPy trainer's validation takes too: `normalize_numpy` (the `Normalizer`'s arithmetic in float32
NumPy) and `numpy_proba` (the network's forward pass, softmax in float64), one thread, batches of
EVAL_BATCH. `predict_proba` takes it whenever the checkpoint is a NumPy one, whatever module it is
handed, so evaluation and `maskflow predict` give such a model the numbers its training logged.
torch is imported only by the torch branch: NumPy models are trained and evaluated without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from maskflow.errors import CheckpointError
from maskflow.models.checkpoint import is_numpy

if TYPE_CHECKING:  # annotations only: torch is imported where a torch model runs
    import torch

EVAL_BATCH = 512


class Normalizer:
    """uint8 N x C x H x W -> floats in [0, 1] (`unit`) -> `(x - mean) / std` (`normalize`).

    Augmentation runs between the two steps during training."""

    def __init__(self, normalization: dict, device: torch.device | str = "cpu"):
        import torch

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
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).to(device)


def forward_in_batches(
    fn: Callable, x: torch.Tensor, normalizer: Normalizer, batch_size: int = EVAL_BATCH
) -> torch.Tensor:
    """`fn` (a model in eval mode, or its `features`) over uint8 NCHW `x`, in float32."""
    import torch

    with torch.no_grad():
        outputs = [fn(normalizer(x[start : start + batch_size])).float() for start in range(0, len(x), batch_size)]
        return torch.cat(outputs) if outputs else torch.empty(0)


def probabilities(logits: torch.Tensor) -> np.ndarray:
    import torch

    # Softmax in float64, so probabilities sum to 1 to ~1e-16 in the prediction files.
    return torch.softmax(logits.detach().cpu().double(), dim=1).numpy()


def proba_metrics(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Cross-entropy (natural log, unweighted, no smoothing) and accuracy of probabilities."""
    if len(y) == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    picked = np.maximum(proba[np.arange(len(y)), y], np.finfo(np.float64).tiny)
    return {"loss": float(-np.log(picked).mean()), "accuracy": float((proba.argmax(1) == y).mean())}


def check_arrays(checkpoint: dict, x: np.ndarray) -> None:
    image = checkpoint["image"]
    expected = (image["size"], image["size"], image["channels"])
    if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise CheckpointError(
            f"{checkpoint.get('path', 'checkpoint')}: expects uint8 N x {' x '.join(map(str, expected))} crops, "
            f"got {x.dtype} {' x '.join(map(str, x.shape))}"
        )


# ---------------------------------------------------------------------------------- NumPy models


def normalize_numpy(x_nchw: np.ndarray, normalization: dict) -> np.ndarray:
    """The `Normalizer` in NumPy: uint8 N x C x H x W -> float32 `x / scale`, then `(x - mean) / std`,
    each step in float32 as torch computes it."""
    shape = (1, len(normalization["mean"]), 1, 1)
    mean = np.asarray(normalization["mean"], dtype=np.float32).reshape(shape)
    std = np.asarray(normalization["std"], dtype=np.float32).reshape(shape)
    unit = np.asarray(x_nchw, dtype=np.float32) / np.float32(normalization.get("scale", 255))
    return (unit - mean) / std


def numpy_forward(
    fn: Callable[[np.ndarray], np.ndarray], x_nchw: np.ndarray, normalization: dict, batch_size: int = EVAL_BATCH
) -> np.ndarray:
    """`fn` (float32 N x C x H x W -> N x K) over uint8 `x_nchw`, normalised batch by batch, on one
    BLAS thread: the same batches and thread count wherever it runs, so the same bits."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        outputs = [
            fn(normalize_numpy(x_nchw[start : start + batch_size], normalization))
            for start in range(0, len(x_nchw), batch_size)
        ]
    return np.concatenate(outputs) if outputs else np.zeros((0, 0))


def numpy_proba(state: dict, arch: dict, x_nchw: np.ndarray, normalization: dict, batch_size: int = EVAL_BATCH):
    """Class probabilities (N x K float64) of a NumPy MLP's weights on uint8 N x C x H x W crops."""
    from maskflow.models.numpy_mlp.network import predict_proba as network_proba

    return numpy_forward(lambda x: network_proba(state, x, arch, batch_size), x_nchw, normalization, batch_size)


def predict_proba(
    model,
    checkpoint: dict,
    x_uint8: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = EVAL_BATCH,
) -> np.ndarray:
    """Class probabilities (N x K float64) of cached-format crops, normalised as in training.

    `model` is the checkpoint's torch module (maskflow.models.checkpoint.load_model); a NumPy
    checkpoint is run from its own weights (`model` may then be None)."""
    check_arrays(checkpoint, x_uint8)
    if len(x_uint8) == 0:
        return np.zeros((0, len(checkpoint["classes"])))
    if is_numpy(checkpoint):
        nchw = np.asarray(x_uint8).transpose(0, 3, 1, 2)
        return numpy_proba(checkpoint["model_state"], checkpoint["arch"], nchw, checkpoint["normalization"], batch_size)
    model.eval()
    logits = forward_in_batches(
        model, as_nchw(x_uint8, device), Normalizer(checkpoint["normalization"], device), batch_size
    )
    return probabilities(logits)
