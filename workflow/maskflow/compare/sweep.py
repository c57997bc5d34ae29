"""`maskflow sweep`: the table, the plot and the overlaid learning curves of one sweep.

    maskflow sweep --sweep lr --metrics results/masks/models/lr-*/metrics.json \
        --histories results/masks/models/lr-*/history.csv \
        --table results/masks/sweeps/lr.csv --plot results/masks/sweeps/lr.png \
        --curves results/masks/sweeps/lr_curves.png

A sweep (config `sweeps:`) expands a base model over a grid of settings; maskflow.config names
each resulting model and records its grid values (`sweep_values`) in the resolved config,
which metrics.json carries. The table has one row per model: the grid values, then the scores.
The plot draws the scores against a one-key grid (joined by lines when the values are numbers,
on a log axis when they span a factor of 10 or more; points alone for categories such as
architectures), a heat map for a two-key grid, and points per model otherwise. The score axis (and
the heat map's colour scale) is zoomed to the data and every value is written on the figure:
the differences between the runs are the point of a sweep. The overlaid learning curves draw
loss on a log axis, so one diverging run does not flatten the others; it is marked "diverged".
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pandas as pd

from maskflow.compare.table import model_row
from maskflow.errors import DataError
from maskflow.figures.scales import diverged, dodged, label_points, label_right, zoom_limits
from maskflow.io import atomic
from maskflow.io.files import read_json

log = logging.getLogger(__name__)

SCORES = ["val_accuracy", "test_accuracy", "test_balanced_accuracy", "test_macro_f1"]
TABLE_EXTRA = ["best_epoch", "param_count", "train_seconds"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sweep", required=True, help="sweep name (config `sweeps:`)")
    parser.add_argument("--metrics", nargs="+", required=True, help="metrics.json of every model of the sweep")
    parser.add_argument("--histories", nargs="+", required=True, help="history.csv of every model, same order")
    parser.add_argument("--table", required=True, help="CSV to write")
    parser.add_argument("--plot", required=True, help="PNG of scores against the grid")
    parser.add_argument("--curves", required=True, help="PNG of the overlaid learning curves")


def _cell(value):
    """Grid values as table cells: lists and mappings as compact JSON, scalars as they are."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def sweep_table(documents: list[dict], sweep: str) -> tuple[pd.DataFrame, list[str]]:
    keys: list[str] = []
    records = []
    for document in documents:
        spec = document.get("spec") or {}
        values = spec.get("sweep_values")
        if spec.get("sweep") != sweep or values is None:
            raise DataError(
                f"model {document['model']!r} is not part of sweep {sweep!r} (its metrics.json says {spec.get('sweep')!r})"
            )
        keys += [k for k in values if k not in keys]
        row = model_row(document)
        records.append(
            {
                "model": document["model"],
                **{k: _cell(v) for k, v in values.items()},
                **{c: row[c] for c in SCORES + TABLE_EXTRA},
            }
        )
    return pd.DataFrame(records), keys


def _numeric(values: pd.Series) -> np.ndarray | None:
    numbers = pd.to_numeric(values, errors="coerce")
    return None if numbers.isna().any() else numbers.to_numpy(dtype=float)


def _value_limits(x: np.ndarray, categorical: bool, log_axis: bool) -> tuple[float, float]:
    """The grid axis with room beside the first and last value for the scores set aside there."""
    if categorical:
        return -0.6, len(x) - 0.4
    low, high = float(x.min()), float(x.max())
    if log_axis:
        factor = (high / low) ** 0.15
        return low / factor, high * factor
    pad = 0.15 * ((high - low) or abs(high) or 1.0)
    return low - pad, high + pad


def _plot_one_key(ax, table: pd.DataFrame, key: str) -> None:
    numbers = _numeric(table[key])
    # A learning-rate-like grid spans orders of magnitude: a log axis spaces it evenly.
    log_axis = numbers is not None and (numbers > 0).all() and numbers.max() / numbers.min() >= 10
    order = np.argsort(numbers, kind="stable") if numbers is not None else np.arange(len(table))
    x = numbers[order] if numbers is not None else np.arange(len(table))
    # Numbers are a trend (a line joins them); categories (architectures, optimizers) are not,
    # so they get points alone. Each score sits a little aside, so close values keep their labels apart.
    style = "-" if numbers is not None else "none"
    for k, score in enumerate(SCORES):
        y = pd.to_numeric(table[score], errors="coerce").to_numpy(float)[order]
        shift = dodged(ax, len(SCORES), k)
        (line,) = ax.plot(x, y, marker="o", linestyle=style, label=score.replace("_", " "), transform=shift)
        label_points(ax, x, y, color=line.get_color(), transform=shift)
    if log_axis:
        ax.set_xscale("log")
    ax.set_xlim(*_value_limits(x, numbers is None, log_axis))
    if numbers is None:
        ax.set_xticks(x, table[key].astype(str).to_numpy()[order], rotation=30, ha="right")
    else:
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    ax.set_xlabel(key)
    ax.set_ylabel("score (axis zoomed to the data)")
    ax.set_ylim(*zoom_limits(table[SCORES]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _plot_two_keys(ax, table: pd.DataFrame, keys: list[str]) -> None:
    import matplotlib.pyplot as plt

    rows = list(dict.fromkeys(table[keys[0]].astype(str)))
    cols = list(dict.fromkeys(table[keys[1]].astype(str)))
    grid = np.full((len(rows), len(cols)), np.nan)
    for _, record in table.iterrows():
        grid[rows.index(str(record[keys[0]])), cols.index(str(record[keys[1]]))] = record["test_accuracy"]
    # The colour scale spans the data, not 0..1: 0.956 and 0.978 get different colours.
    finite = grid[np.isfinite(grid)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if high - low < 1e-3:
        low, high = low - 0.005, high + 0.005
    image = ax.imshow(grid, cmap="viridis", vmin=low, vmax=high)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(grid[i, j]):
                dark = (grid[i, j] - low) / (high - low) < 0.6  # viridis is dark in its lower part
                ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(keys[1])
    ax.set_ylabel(keys[0])
    plt.colorbar(image, ax=ax, label="test accuracy")


def _plot_bars(ax, table: pd.DataFrame, keys: list[str]) -> None:
    """One row per model, each score a point on an axis zoomed to the data (points, not bars:
    a zoomed bar's length misreads as its value)."""
    y = np.arange(len(table))
    height = 0.8 / len(SCORES)
    low, high = zoom_limits(table[SCORES])
    ax.set_xlim(low, high)
    for k, score in enumerate(SCORES):
        values = pd.to_numeric(table[score], errors="coerce").to_numpy(float)
        positions = y - 0.4 + height * (k + 0.5)
        ax.plot(values, positions, "o", label=score.replace("_", " "), clip_on=False)
        label_right(ax, values, positions, fontsize=6)
    labels = [", ".join(f"{key}={record[key]}" for key in keys) for _, record in table.iterrows()]
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("score (axis zoomed to the data)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)


# number of grid keys -> plot (more than two keys: bars per model).
PLOTS = {1: lambda ax, t, k: _plot_one_key(ax, t, k[0]), 2: _plot_two_keys}


def plot_sweep(table: pd.DataFrame, keys: list[str], sweep: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tall = len(keys) > 2
    figure, ax = plt.subplots(figsize=(8, 1.5 + 0.5 * len(table) if tall else 4.5))
    PLOTS.get(len(keys), _plot_bars)(ax, table, keys)
    ax.set_title(f"sweep {sweep}: {', '.join(keys)}")
    figure.tight_layout()
    return figure


def plot_curves(histories: dict[str, dict[str, np.ndarray]], labels: dict[str, str], sweep: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from maskflow.figures.curves import draw_curves

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(histories), 1)))
    for color, (model, history) in zip(colors, histories.items()):
        label = labels[model] + (" (diverged)" if diverged(history["train_loss"]) else "")
        draw_curves(axes, history, label=label, color=color)
    # Log axis: losses of runs that differ in lr span decades, and a diverged run would
    # otherwise squash every other curve onto zero.
    axes[0].set_yscale("log")
    axes[0].set_title("loss, log axis (dashed: train, solid: val)")
    axes[1].set_title("accuracy (dashed: train, solid: val)")
    axes[1].legend(fontsize=7, ncol=2 if len(histories) > 6 else 1)
    figure.suptitle(f"sweep {sweep}: learning curves")
    figure.tight_layout()
    return figure


def run(args: argparse.Namespace) -> None:
    from maskflow.figures.curves import read_history

    if len(args.metrics) != len(args.histories):
        raise DataError(f"{len(args.metrics)} metrics files but {len(args.histories)} histories")
    documents = [read_json(p, "metrics of a sweep member (run `maskflow evaluate` first)") for p in args.metrics]
    table, keys = sweep_table(documents, args.sweep)
    atomic.write_csv(args.table, table)
    atomic.save_figure(args.plot, plot_sweep(table, keys, args.sweep))
    histories = {d["model"]: read_history(p) for d, p in zip(documents, args.histories)}
    labels = {record["model"]: ", ".join(f"{k}={record[k]}" for k in keys) for _, record in table.iterrows()}
    atomic.save_figure(args.curves, plot_curves(histories, labels, args.sweep))
    best = (
        table.loc[pd.to_numeric(table["val_accuracy"], errors="coerce").idxmax()]
        if table["val_accuracy"].notna().any()
        else None
    )
    if best is not None:
        log.info("sweep %s: best val accuracy %.4f by %s", args.sweep, best["val_accuracy"], best["model"])
