"""The one inference path: cached-format uint8 crops -> class probabilities.

    from maskflow.inference import predict_proba
    proba = predict_proba(model, checkpoint, x_uint8, "cpu")      # N x K float64

Training evaluates its validation split with these same functions (`Normalizer`,
`forward_in_batches`, `probabilities`, `proba_metrics`) and the same batch size as evaluation,
prediction on new photos and the figures, which is why a reloaded model reproduces the logged
metrics exactly (and why there is no second preprocessing path to drift apart).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from maskflow.errors import CheckpointError

EVAL_BATCH = 512


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


def check_arrays(checkpoint: dict, x: np.ndarray) -> None:
    image = checkpoint["image"]
    expected = (image["size"], image["size"], image["channels"])
    if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise CheckpointError(
            f"{checkpoint.get('path', 'checkpoint')}: expects uint8 N x {' x '.join(map(str, expected))} crops, "
            f"got {x.dtype} {' x '.join(map(str, x.shape))}"
        )


def predict_proba(
    model: torch.nn.Module,
    checkpoint: dict,
    x_uint8: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = EVAL_BATCH,
) -> np.ndarray:
    """Class probabilities (N x K float64) of cached-format crops, normalised as in training."""
    check_arrays(checkpoint, x_uint8)
    if len(x_uint8) == 0:
        return np.zeros((0, len(checkpoint["classes"])))
    model.eval()
    logits = forward_in_batches(
        model, as_nchw(x_uint8, device), Normalizer(checkpoint["normalization"], device), batch_size
    )
    return probabilities(logits)
