"""Input-gradient saliency (`saliency`): which pixels move the predicted class's score most.

For a few test crops of each class (`figures.saliency_per_class`, the first ones in cache
order), the gradient of the predicted class's logit with respect to the normalised input, i.e.
exactly what the network sees (Simonyan et al. 2014); the map is the largest absolute gradient
over the colour channels, scaled per crop. `maskflow evaluate` computes the maps while it has the
model loaded (maskflow.evaluation.explain); this job only plots them, without torch.
`maskflow figure saliency --explanations .../explanations.npz --out ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from maskflow.errors import ConfigError
from maskflow.evaluation.explain import SALIENCY_KEPT, pick_per_class
from maskflow.figures.common import message_figure, read_explanations, show_crop


def render(job):
    arrays = read_explanations(job)
    classes = [str(name) for name in arrays["classes"]]
    title = f"{job.model}: input-gradient saliency on test crops"
    wanted = int(job.setting("saliency_per_class"))
    if wanted > SALIENCY_KEPT:
        raise ConfigError(
            f"figures.saliency_per_class: {wanted} is more than the {SALIENCY_KEPT} test crops per class "
            "whose saliency `maskflow evaluate` keeps"
        )
    picks = pick_per_class(arrays["saliency_label"], len(classes), wanted)
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
        for col, i in enumerate(indices):
            p, conf = int(arrays["saliency_predicted"][i]), float(arrays["saliency_confidence"][i])
            crop_ax, map_ax = axes[row, 2 * col], axes[row, 2 * col + 1]
            crop_ax.axis("on")
            show_crop(crop_ax, arrays["saliency_crop"][i])
            crop_ax.set_title(f"pred {classes[p]} ({conf:.2f})", fontsize=7, color="black" if p == row else "firebrick")
            map_ax.imshow(arrays["saliency_map"][i], cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
            map_ax.set_title("saliency", fontsize=7)
    figure.suptitle(title + " (rows: true class)")
    figure.tight_layout()
    return figure
