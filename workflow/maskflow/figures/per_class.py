"""Per-class accuracy (`per_class_accuracy`): train vs test bars for every class.

A class that is learned on train but missed on test (or never learned at all, as the rare
classes often are) stands out here. Per-class accuracy is the share of the class's samples
classified correctly (maskflow.evaluation.metrics). `maskflow figure per_class_accuracy --metrics ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.figures.common import message_figure
from maskflow.io.files import read_json

SHOWN_SPLITS = {"train": "#8fb3d9", "test": "#d9822b"}


def render(job):
    metrics = read_json(job.path("metrics"), "metrics.json")
    classes = metrics["classes"]
    title = f"{metrics['model']}: per-class accuracy"
    shown = {s: c for s, c in SHOWN_SPLITS.items() if metrics["splits"].get(s, {}).get("n")}
    if not shown:
        return message_figure(title, "no train or test samples")
    figure, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(classes) + 2), 4))
    width = 0.8 / len(shown)
    x = np.arange(len(classes))
    for offset, (split, colour) in enumerate(shown.items()):
        per_class = metrics["splits"][split]["per_class"]
        values = [per_class[c]["accuracy"] for c in classes]
        positions = x - 0.4 + width * (offset + 0.5)
        bars = ax.bar(
            positions,
            [v or 0 for v in values],
            width,
            color=colour,
            label=f"{split} (accuracy {metrics['splits'][split]['accuracy']:.3f})",
        )
        for bar, value, c in zip(bars, values, classes):
            support = per_class[c]["support"]
            label = "n/a" if value is None else f"{value:.2f}"
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                (value or 0) + 0.02,
                f"{label}\nn={support}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_xticks(x, classes)
    ax.set_ylim(0, 1.25)
    ax.set_ylabel("share of the class classified correctly")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure
