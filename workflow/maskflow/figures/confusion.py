"""Confusion matrices (`confusion_matrix_{split}`): counts and row-normalized side by side.

Read from metrics.json, so the figure shows exactly the numbers the metrics were computed
from. Rendered by `maskflow figure confusion_matrix_test --metrics ... --out ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.figures.common import message_figure
from maskflow.io.files import read_json


def _panel(ax, matrix: np.ndarray, classes: list[str], title: str, fmt, vmax: float) -> None:
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(vmax, 1e-9))
    ax.set_title(title)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            # White text on dark cells, black on light ones: readable either way.
            ax.text(
                j,
                i,
                fmt(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=9,
                color="white" if matrix[i, j] > threshold else "black",
            )
    plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def render(job):
    metrics = read_json(job.path("metrics"), "metrics.json")
    classes = metrics["classes"]
    entry = metrics["splits"].get(job.split)
    title = f"{metrics['model']}: confusion matrix, {job.split} split"
    if not entry or not entry["n"]:
        return message_figure(title, f"the {job.split} split is empty")
    counts = np.asarray(entry["confusion_matrix"], dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    # Rows of classes absent from the split stay 0 instead of 0/0.
    normalized = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = 3.2 + 0.45 * len(classes)
    # Constrained layout keeps the suptitle clear of the panel titles at any class count.
    figure, axes = plt.subplots(1, 2, figsize=(2 * size + 1.5, size + 0.4), layout="constrained")
    _panel(axes[0], counts, classes, "counts", lambda v: f"{v:d}", vmax=counts.max())
    _panel(axes[1], normalized, classes, "row-normalized (recall)", lambda v: f"{v:.2f}", vmax=1.0)
    figure.suptitle(
        f"{title} (n={entry['n']}, accuracy {entry['accuracy']:.3f}, balanced {entry['balanced_accuracy']:.3f})"
    )
    return figure
