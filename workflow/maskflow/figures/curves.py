"""Learning curves (`learning_curves`): loss and accuracy per epoch, train vs val, best epoch marked.

The best epoch is the one whose weights the checkpoint kept (metrics.json `training.best_epoch`,
copied from the checkpoint by `maskflow evaluate`). `maskflow figure learning_curves
--history .../history.csv --metrics .../metrics.json --out ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from maskflow.errors import DataError
from maskflow.figures.common import message_figure
from maskflow.io.files import read_json

PANELS = {"loss": ("train_loss", "val_loss"), "accuracy": ("train_acc", "val_acc")}


def read_history(path) -> pd.DataFrame:
    history = pd.read_csv(path)
    missing = {"epoch", *[c for pair in PANELS.values() for c in pair]} - set(history.columns)
    if missing:
        raise DataError(f"{path}: history lacks columns {', '.join(sorted(missing))}")
    return history


def draw_curves(axes, history: pd.DataFrame, label: str = "", color=None, best_epoch=None) -> None:
    """Draw train (dashed) and val (solid) curves of one history on the loss and accuracy axes."""
    for ax, (metric, (train_col, val_col)) in zip(axes, PANELS.items()):
        prefix = f"{label} " if label else ""
        ax.plot(history["epoch"], history[train_col], linestyle="--", marker=".", color=color, label=f"{prefix}train")
        if history[val_col].notna().any():
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
    if history.empty:
        return message_figure(title, "the history has no epochs")
    best = (metrics.get("training") or {}).get("best_epoch")
    if best is None and history["val_loss"].notna().any():
        best = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    draw_curves(axes, history, best_epoch=best)
    axes[0].set_title("loss")
    axes[1].set_title("accuracy")
    axes[1].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
