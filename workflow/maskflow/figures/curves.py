"""Learning curves (`learning_curves`): loss and accuracy per epoch, train vs val, best epoch marked.

The best epoch is the one whose weights the checkpoint kept (metrics.json `training.best_epoch`,
copied from the checkpoint by `maskflow evaluate`). `maskflow figure learning_curves
--history .../history.csv --metrics .../metrics.json --out ...`.
"""

from __future__ import annotations

import csv

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from maskflow.errors import DataError
from maskflow.figures.common import message_figure
from maskflow.io.files import read_json

PANELS = {"loss": ("train_loss", "val_loss"), "accuracy": ("train_acc", "val_acc")}


def read_history(path) -> dict[str, np.ndarray]:
    """history.csv as column -> float array (an empty cell, e.g. a val loss without a val split,
    is NaN). Read with the csv module: pandas would add 0.4 s of import to every figure job."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = {name: [] for name in reader.fieldnames or []}
        missing = {"epoch", *[c for pair in PANELS.values() for c in pair]} - set(columns)
        if missing:
            raise DataError(f"{path}: history lacks columns {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            for name in columns:
                text = (row.get(name) or "").strip()
                try:
                    columns[name].append(float(text) if text else np.nan)
                except ValueError:
                    raise DataError(f"{path}, line {line}: {name} is {text!r}, not a number") from None
    return {name: np.asarray(values, dtype=float) for name, values in columns.items()}


def draw_curves(axes, history: dict[str, np.ndarray], label: str = "", color=None, best_epoch=None) -> None:
    """Draw train (dashed) and val (solid) curves of one history on the loss and accuracy axes."""
    for ax, (metric, (train_col, val_col)) in zip(axes, PANELS.items()):
        prefix = f"{label} " if label else ""
        ax.plot(history["epoch"], history[train_col], linestyle="--", marker=".", color=color, label=f"{prefix}train")
        if np.isfinite(history[val_col]).any():
            ax.plot(history["epoch"], history[val_col], linestyle="-", marker=".", color=color, label=f"{prefix}val")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="gray", linestyle=":", label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)


def render(job):
    history = read_history(job.path("history"))
    metrics = read_json(job.path("metrics"), "metrics.json")
    title = f"{metrics['model']}: learning curves"
    if not len(history["epoch"]):
        return message_figure(title, "the history has no epochs")
    best = (metrics.get("training") or {}).get("best_epoch")
    if best is None and np.isfinite(history["val_loss"]).any():
        best = int(history["epoch"][np.nanargmin(history["val_loss"])])
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    draw_curves(axes, history, best_epoch=best)
    axes[0].set_title("loss")
    axes[1].set_title("accuracy")
    axes[1].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
