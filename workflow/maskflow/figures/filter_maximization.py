"""What the last convolution layer looks for (`filter_maximization`): for a sample of its filters,
the input that activates each most, beside one test crop's activation maps of the same filters.

Each input is found by gradient ascent (Erhan et al. 2009; Simonyan et al. 2014): start from a
mid-gray image with a little seeded noise (so filters that see no contrast in flat gray still
get a gradient), and follow the gradient of the filter's mean activation, minus a small L2
penalty that keeps the image from growing without bound, in the normalised space the network
sees. The filters are a seeded sample (the model's seed) when the layer has more than
`SAMPLE`. Top row: the maximizing inputs (each scaled to its own range, gray for gray data);
bottom row: the first test crop and its activation map of each filter (after the activation
that follows the conv, as in `filters`).

    maskflow figure filter_maximization --checkpoint .../checkpoint.pt --cache-dir results/masks/cache --out ...
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.figures.common import cached_crops, load_model, message_figure, show_crop
from maskflow.figures.filters import conv_layers, last_conv_maps

SAMPLE = 8  # filters shown
STEPS = 60  # gradient-ascent steps
LEARNING_RATE = 0.1  # Adam, in normalised input units
L2 = 1e-3  # penalty on the mean squared input
NOISE = 0.1  # std of the starting noise around gray, in normalised units


def sample_filters(n_filters: int, seed: int, sample: int = SAMPLE) -> list[int]:
    """Sorted indices of the filters to show: all when few, else a seeded sample."""
    if n_filters <= sample:
        return list(range(n_filters))
    return sorted(np.random.default_rng(seed).choice(n_filters, size=sample, replace=False).tolist())


def maximize(model, ckpt: dict, tapped, filters: list[int], seed: int, steps: int = STEPS):
    """(inputs F x C x H x W in normalised units, mean activation of each filter at the start and at
    the end) for the model's own crop size and channels, by gradient ascent from gray."""
    import torch

    from maskflow.inference import Normalizer

    size, channels = ckpt["image"]["size"], ckpt["image"]["channels"]
    normalizer = Normalizer(ckpt["normalization"])
    gray = normalizer(torch.full((len(filters), channels, size, size), 128, dtype=torch.uint8))
    noise = torch.randn(gray.shape, generator=torch.Generator().manual_seed(seed)) * NOISE
    x = (gray + noise).requires_grad_(True)
    for parameter in model.parameters():
        parameter.requires_grad_(False)  # only the input is optimised
    captured = {}
    handle = tapped.register_forward_hook(lambda module, inputs, output: captured.__setitem__("maps", output))
    index = torch.tensor(filters)

    def activations() -> torch.Tensor:
        model(x)
        maps = captured["maps"]
        # sample f drives filter filters[f]: one batch, every filter optimised at once
        return maps[torch.arange(len(filters)), index].mean(dim=(1, 2))

    optimizer = torch.optim.Adam([x], lr=LEARNING_RATE)
    try:
        with torch.no_grad():
            start = activations().numpy()
        for _ in range(steps):
            optimizer.zero_grad()
            act = activations()
            # the batch shares nothing in eval mode: each sample gets its own filter's gradient
            (-(act.sum()) + L2 * x.pow(2).mean(dim=(1, 2, 3)).sum()).backward()
            optimizer.step()
        with torch.no_grad():
            end = activations().numpy()
    finally:
        handle.remove()
    return x.detach().numpy(), start, end


def to_image(x: np.ndarray) -> np.ndarray:
    """C x H x W float -> H x W x C in [0, 1], scaled to its own range (gray: H x W x 1)."""
    image = x.transpose(1, 2, 0)
    low, span = image.min(), image.max() - image.min()
    return (image - low) / span if span > 0 else np.full_like(image, 0.5)


def render(job):
    model, ckpt = load_model(job)
    first, tapped = conv_layers(model)
    title = f"{job.model}: inputs that most activate last-conv filters"
    if first is None:
        return message_figure(title, "the model has no convolution layer")
    seed = int(ckpt.get("seed", 1))
    n_filters = last_conv_filters(model)
    filters = sample_filters(n_filters, seed)
    inputs, start, end = maximize(model, ckpt, tapped, filters, seed)
    crops, labels = cached_crops(job, "test")
    maps = last_conv_maps(model, ckpt, crops[0], tapped)[filters] if len(crops) else None

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
        show_crop(crop_ax, crops[0])
        crop_ax.set_title(f"test crop 0 ({ckpt['classes'][int(labels[0])]})", fontsize=7)
        for j, (c, fmap) in enumerate(zip(filters, maps)):
            ax = axes[1, j + 1]
            ax.imshow(fmap, cmap="viridis", interpolation="nearest")
            ax.set_title(f"map {c} (max {fmap.max():.2f})", fontsize=7)
    figure.suptitle(f"{title} (top) and one test crop's maps of the same filters (bottom)", fontsize=9)
    figure.tight_layout()
    return figure


def last_conv_filters(model) -> int:
    """Filters (output channels) of the model's last convolution."""
    from torch import nn

    return [m for m in model.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
