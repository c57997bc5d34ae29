"""What the last convolution layer looks for (`filter_maximization`): for a sample of its filters,
the input that activates each most, beside one test crop's activation maps of the same filters.

Each input is found by gradient ascent from gray (maskflow.evaluation.explain.maximize: seeded
noise, Adam, a small L2 penalty, in the normalised space the network sees), by `maskflow
evaluate` while it has the model loaded; this job only plots the result, without torch. The
filters are a seeded sample (the model's seed) when the layer has more than explain.SAMPLE. Top
row: the maximizing inputs (each scaled to its own range, gray for gray data); bottom row: the
first test crop and its activation map of each filter (after the activation that follows the
conv, as in `filters`).

    maskflow figure filter_maximization --explanations .../explanations.npz --out ...
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.evaluation.explain import L2, STEPS
from maskflow.figures.common import message_figure, read_explanations, show_crop


def to_image(x: np.ndarray) -> np.ndarray:
    """C x H x W float -> H x W x C in [0, 1], scaled to its own range (gray: H x W x 1)."""
    image = x.transpose(1, 2, 0)
    low, span = image.min(), image.max() - image.min()
    return (image - low) / span if span > 0 else np.full_like(image, 0.5)


def render(job):
    arrays = read_explanations(job)
    title = f"{job.model}: inputs that most activate last-conv filters"
    if "maximization_input" not in arrays:
        return message_figure(title, "the model has no convolution layer")
    seed, n_filters = int(arrays["maximization_seed"]), int(arrays["maximization_filter_count"])
    filters = [int(c) for c in arrays["maximization_filters"]]
    inputs, start, end = arrays["maximization_input"], arrays["maximization_start"], arrays["maximization_end"]
    maps = arrays["probe_maps"][filters] if "probe_crop" in arrays else None

    cols = len(filters) + 1
    figure, axes = plt.subplots(2, cols, figsize=(1.6 * cols, 3.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].text(
        0.0,
        0.5,
        f"gradient ascent\nfrom gray, {STEPS} steps,\nL2 {L2:g}, seed {seed}\n\n{len(filters)} of {n_filters} filters",
        fontsize=7,
        va="center",
        transform=axes[0, 0].transAxes,
    )
    for j, (c, x) in enumerate(zip(filters, inputs)):
        ax = axes[0, j + 1]
        image = to_image(x)
        ax.imshow(image[:, :, 0] if image.shape[2] == 1 else image, cmap="gray", interpolation="nearest")
        ax.set_title(f"filter {c}\nact {start[j]:.2f} -> {end[j]:.2f}", fontsize=7)
    crop_ax = axes[1, 0]
    if maps is None:
        crop_ax.set_title("no test crop", fontsize=7)
    else:
        crop_ax.axis("on")
        show_crop(crop_ax, arrays["probe_crop"])
        crop_ax.set_title(f"test crop 0 ({arrays['classes'][int(arrays['probe_label'])]})", fontsize=7)
        for j, (c, fmap) in enumerate(zip(filters, maps)):
            ax = axes[1, j + 1]
            ax.imshow(fmap, cmap="viridis", interpolation="nearest")
            ax.set_title(f"map {c} (max {fmap.max():.2f})", fontsize=7)
    figure.suptitle(f"{title} (top) and one test crop's maps of the same filters (bottom)", fontsize=9)
    figure.tight_layout()
    return figure
