"""Input-gradient saliency (`saliency`): which pixels move the predicted class's score most.

For a few test crops of each class (`figures.saliency_per_class`, the first ones in cache
order), the gradient of the predicted class's logit is taken with respect to the normalised
input, i.e. exactly what the network sees (Simonyan et al. 2014); the map is the largest
absolute gradient over the colour channels, scaled per crop. `maskflow figure saliency
--checkpoint .../checkpoint.pt --cache-dir results/masks/cache --out ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.figures.common import cached_crops, load_model, message_figure, show_crop


def pick_per_class(labels: np.ndarray, k: int, per_class: int) -> list[np.ndarray]:
    """Indices of the first `per_class` samples of each class (empty for an absent class)."""
    return [np.flatnonzero(labels == c)[:per_class] for c in range(k)]


def saliency_maps(model, ckpt: dict, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H x W saliency in [0, 1] per crop, predicted class, its probability) for uint8 crops."""
    import torch

    from maskflow.inference import Normalizer, as_nchw

    normalizer = Normalizer(ckpt["normalization"])
    x = normalizer(as_nchw(crops)).requires_grad_(True)
    logits = model(x)
    predicted = logits.argmax(dim=1)
    # Summing the chosen logits gives each crop's own gradient: samples do not interact in eval mode.
    logits.gather(1, predicted[:, None]).sum().backward()
    grad = x.grad.detach().abs().amax(dim=1).numpy()
    top = grad.reshape(len(grad), -1).max(axis=1).reshape(-1, 1, 1)
    maps = np.divide(grad, top, out=np.zeros_like(grad), where=top > 0)
    proba = torch.softmax(logits.detach().double(), dim=1).numpy()
    return maps, predicted.numpy(), proba[np.arange(len(proba)), predicted.numpy()]


def render(job):
    model, ckpt = load_model(job)
    classes = list(ckpt["classes"])
    crops, labels = cached_crops(job, "test")
    title = f"{job.model}: input-gradient saliency on test crops"
    picks = pick_per_class(labels, len(classes), int(job.setting("saliency_per_class")))
    if not any(len(p) for p in picks):
        return message_figure(title, "the test split is empty")
    per_class = max(len(p) for p in picks)
    figure, axes = plt.subplots(
        len(classes), 2 * per_class, figsize=(1.7 * 2 * per_class, 1.9 * len(classes) + 0.6), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for row, (name, indices) in enumerate(zip(classes, picks)):
        axes[row, 0].text(
            -0.15, 0.5, name, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=10, weight="bold"
        )
        if not len(indices):
            axes[row, 0].set_title("no test crops", fontsize=8)
            continue
        maps, predicted, confidence = saliency_maps(model, ckpt, crops[indices])
        for col, (i, smap, p, conf) in enumerate(zip(indices, maps, predicted, confidence)):
            crop_ax, map_ax = axes[row, 2 * col], axes[row, 2 * col + 1]
            crop_ax.axis("on")
            show_crop(crop_ax, crops[i])
            crop_ax.set_title(f"pred {classes[p]} ({conf:.2f})", fontsize=7, color="black" if p == row else "firebrick")
            map_ax.imshow(smap, cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
            map_ax.set_title("saliency", fontsize=7)
    figure.suptitle(title + " (rows: true class)")
    figure.tight_layout()
    return figure
