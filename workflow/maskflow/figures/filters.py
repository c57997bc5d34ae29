"""CNN filters and activations (`filters`): first-layer kernels, one image's last-conv feature maps.

The first convolution's kernels are drawn as small images (RGB when the input is colour, each
kernel scaled to its own range); below them, the first test crop and the feature maps it
produces after the last convolution layer (after its activation when one follows directly).
`maskflow evaluate` takes the kernels and maps while it has the model loaded
(maskflow.evaluation.explain); this job only plots them, without torch.
`maskflow figure filters --explanations .../explanations.npz --out ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.figures.common import message_figure, read_explanations, show_crop

MAX_MAPS = 32  # feature maps shown; wide layers would make an unreadable wall of tiles


def filter_images(weight: np.ndarray) -> np.ndarray:
    """out x in x k x k kernels -> out x k x k x (3 or 1) images, each scaled to [0, 1]."""
    images = weight.transpose(0, 2, 3, 1)
    if images.shape[3] not in (1, 3):
        images = images.mean(axis=3, keepdims=True)
    low = images.min(axis=(1, 2, 3), keepdims=True)
    span = images.max(axis=(1, 2, 3), keepdims=True) - low
    return np.divide(images - low, span, out=np.full_like(images, 0.5), where=span > 0)


def render(job):
    arrays = read_explanations(job)
    title = f"{job.model}: first-layer filters and last-conv activations"
    if "first_conv_weight" not in arrays:
        return message_figure(title, "the model has no convolution layer")
    weight = arrays["first_conv_weight"]
    kernels = filter_images(weight)
    has_crop = "probe_crop" in arrays
    maps = arrays["probe_maps"][:MAX_MAPS] if has_crop else np.zeros((0, 1, 1))
    cols = 8
    kernel_rows = -(-len(kernels) // cols)
    map_rows = -(-len(maps) // cols) if len(maps) else 0
    rows = kernel_rows + 1 + map_rows
    figure, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.35 * rows + 0.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, kernel in enumerate(kernels):
        ax = axes[i // cols, i % cols]
        ax.imshow(
            kernel[:, :, 0] if kernel.shape[2] == 1 else kernel,
            cmap="gray" if kernel.shape[2] == 1 else None,
            interpolation="nearest",
        )
        ax.set_title(f"filter {i}", fontsize=7)
    image_ax = axes[kernel_rows, 0]
    if has_crop:
        image_ax.axis("on")
        show_crop(image_ax, arrays["probe_crop"])
        image_ax.set_title(
            f"test crop 0 ({arrays['classes'][int(arrays['probe_label'])]}):\nits {len(maps)} last-conv maps below",
            fontsize=7,
            loc="left",
        )
    else:
        image_ax.set_title("no test crop", fontsize=7)
    for i, fmap in enumerate(maps):
        ax = axes[kernel_rows + 1 + i // cols, i % cols]
        ax.imshow(fmap, cmap="viridis", interpolation="nearest")
        ax.set_title(f"map {i} (max {fmap.max():.2f})", fontsize=6)
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    figure.suptitle(f"{title} (first conv: {in_channels} -> {out_channels} channels, {kernel_h}x{kernel_w})")
    figure.tight_layout()
    return figure
