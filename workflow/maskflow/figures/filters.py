"""CNN filters and activations (`filters`): first-layer kernels, one image's last-conv feature maps.

The first convolution's kernels are drawn as small images (RGB when the input is colour, each
kernel scaled to its own range); below them, the first test crop and the feature maps it
produces after the last convolution layer (after its activation when one follows directly).
`maskflow figure filters --checkpoint .../checkpoint.pt --cache-dir results/masks/cache --out ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.figures.common import cached_crops, load_model, message_figure, show_crop

MAX_MAPS = 32  # feature maps shown; wide layers would make an unreadable wall of tiles


def _activation_types():
    from torch import nn

    return (nn.ReLU, nn.LeakyReLU, nn.RReLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.GELU)


def conv_layers(model) -> tuple[object | None, object | None]:
    """(first Conv2d, the module whose output is the last conv layer's activation)."""
    from torch import nn

    modules = list(model.modules())
    convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
    if not convs:
        return None, None
    last = convs[-1]
    tapped = modules[last]
    for module in modules[last + 1 :]:
        if isinstance(module, nn.BatchNorm2d):
            continue
        if isinstance(module, _activation_types()):
            tapped = module
        break
    return modules[convs[0]], tapped


def filter_images(weight: np.ndarray) -> np.ndarray:
    """out x in x k x k kernels -> out x k x k x (3 or 1) images, each scaled to [0, 1]."""
    images = weight.transpose(0, 2, 3, 1)
    if images.shape[3] not in (1, 3):
        images = images.mean(axis=3, keepdims=True)
    low = images.min(axis=(1, 2, 3), keepdims=True)
    span = images.max(axis=(1, 2, 3), keepdims=True) - low
    return np.divide(images - low, span, out=np.full_like(images, 0.5), where=span > 0)


def last_conv_maps(model, ckpt: dict, crop: np.ndarray, tapped) -> np.ndarray:
    import torch

    from maskflow.inference import Normalizer, as_nchw

    captured = {}
    handle = tapped.register_forward_hook(lambda module, inputs, output: captured.__setitem__("maps", output.detach()))
    try:
        with torch.no_grad():
            model(Normalizer(ckpt["normalization"])(as_nchw(crop[None])))
    finally:
        handle.remove()
    return captured["maps"][0].numpy()


def render(job):
    model, ckpt = load_model(job)
    first, tapped = conv_layers(model)
    title = f"{job.model}: first-layer filters and last-conv activations"
    if first is None:
        return message_figure(title, "the model has no convolution layer")
    kernels = filter_images(first.weight.detach().numpy())
    crops, labels = cached_crops(job, "test")
    maps = last_conv_maps(model, ckpt, crops[0], tapped)[:MAX_MAPS] if len(crops) else np.zeros((0, 1, 1))
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
    if len(crops):
        image_ax.axis("on")
        show_crop(image_ax, crops[0])
        image_ax.set_title(
            f"test crop 0 ({ckpt['classes'][int(labels[0])]}):\nits {len(maps)} last-conv maps below",
            fontsize=7,
            loc="left",
        )
    else:
        image_ax.set_title("no test crop", fontsize=7)
    for i, fmap in enumerate(maps):
        ax = axes[kernel_rows + 1 + i // cols, i % cols]
        ax.imshow(fmap, cmap="viridis", interpolation="nearest")
        ax.set_title(f"map {i} (max {fmap.max():.2f})", fontsize=6)
    figure.suptitle(
        f"{title} (first conv: {first.in_channels} -> {first.out_channels} channels, {first.kernel_size[0]}x{first.kernel_size[1]})"
    )
    figure.tight_layout()
    return figure
