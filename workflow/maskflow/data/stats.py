"""`maskflow stats`: class counts and train-only normalization of the cached crops, and the
data set's figures (class balance, example crops, box sizes). Class imbalance is seen here,
before any model trains.

    maskflow stats --cache-dir results/masks/cache --spec '{"classes": ["good", "bad", "none"]}' \
        --counts results/masks/stats/class_counts.csv --normalization results/masks/stats/normalization.json
    maskflow stats --cache-dir results/masks/cache --spec '{"classes": [...]}' \
        --counts results/masks/stats/class_counts.csv --figure class_balance --out class_balance.png

The first form writes class_counts.csv (`split,label,count,ratio`: every class in every split,
ratio within the split) and normalization.json (per-channel mean and std of the train split
only, in 0..1 units; docs/contracts.md) with the cache's seal (`cache_sha256`: the sha256 of
every cache file, which later stages check through maskflow.data.integrity). The second renders one
figure (FIGURES registry) and reads the counts written by the first. Every cache read goes
through `maskflow.data.integrity.load_split`, so a truncated or mismatched cache file is refused
with its name and how to rebuild it.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.config import SPLITS
from maskflow.data import integrity
from maskflow.errors import ConfigError, DataError
from maskflow.io import atomic, hashing
from maskflow.options import json_option

log = logging.getLogger("maskflow.data.stats")

CHUNK_VALUES = 1 << 23  # uint8 values per chunk of the normalization pass (64 MiB as float64)
EXAMPLES_PER_CLASS = 8
EXAMPLES_SEED = 0  # which crops the examples figure shows: fixed, so the figure is reproducible


# ---------------------------------------------------------------- numbers


def count_table(cache_dir: Path, classes: list[str]) -> pd.DataFrame:
    """`split,label,count,ratio` for every split and every class (0 included).

    Every split's crops, labels and index are checked against each other on the way
    (maskflow.data.integrity), so the seal written beside the normalization covers a consistent cache."""
    records = []
    for split in SPLITS:
        labels = integrity.load_split(cache_dir, split, classes=classes, mmap=True).y
        counts = np.bincount(labels, minlength=len(classes)) if len(labels) else np.zeros(len(classes), dtype=int)
        total = int(counts.sum())
        for label, count in zip(classes, counts):
            records.append(
                {"split": split, "label": label, "count": int(count), "ratio": count / total if total else 0.0}
            )
    return pd.DataFrame.from_records(records, columns=["split", "label", "count", "ratio"])


def normalization(cache_dir: Path) -> dict:
    """Per-channel mean and std (population, 0..1 units) of train_x.npy, read in chunks."""
    path = integrity.cache_path(cache_dir, "train", "x")
    x = integrity.load_split(cache_dir, "train", index=False, mmap=True).x
    if len(x) == 0:
        raise DataError(f"{path}: the train split is empty; normalization needs training crops")
    channels = x.shape[3]
    per_chunk = max(1, CHUNK_VALUES // int(np.prod(x.shape[1:])))
    total = np.zeros(channels)
    squares = np.zeros(channels)
    for start in range(0, len(x), per_chunk):
        # float64 sums of integers are exact up to 2**53, so the chunk order cannot change them.
        chunk = np.asarray(x[start : start + per_chunk], dtype=np.float64).reshape(-1, channels)
        total += chunk.sum(axis=0)
        squares += np.square(chunk).sum(axis=0)
    count = len(x) * x.shape[1] * x.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    if (std == 0).any():
        # A constant channel would divide by zero; 1 leaves it merely centred.
        log.warning("train crops have a constant channel; its std is set to 1")
        std[std == 0] = 255.0  # 1 once in 0..1 units
    return {
        "mean": (mean / 255).tolist(),
        "std": (std / 255).tolist(),
        "scale": 255,
        "channels": int(channels),
        "size": int(x.shape[1]),
        "computed_on": "train",
        "train_sha256": hashing.sha256_file(path),
    }


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class FigureInputs:
    cache_dir: Path
    classes: list[str]
    counts: Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a cluster node
    import matplotlib.pyplot as plt

    return plt


def class_balance_figure(inputs: FigureInputs):
    """Grouped bars: one group per split, one bar per class, count and share written on each."""
    plt = _pyplot()
    counts = pd.read_csv(inputs.counts, keep_default_na=False)
    splits = [s for s in SPLITS if s in set(counts["split"])]
    width = 0.8 / len(inputs.classes)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.1 * len(splits) * len(inputs.classes) * 0.6 + 2), 4.5))
    colours = plt.get_cmap("tab10")
    top = max(1, int(counts["count"].max()))
    for k, label in enumerate(inputs.classes):
        rows = counts[counts["label"] == label].set_index("split").reindex(splits)
        positions = np.arange(len(splits)) + (k - (len(inputs.classes) - 1) / 2) * width
        bars = axes.bar(positions, rows["count"].fillna(0), width, label=label, color=colours(k % 10))
        for bar, count, ratio in zip(bars, rows["count"].fillna(0), rows["ratio"].fillna(0)):
            axes.annotate(
                f"{int(count)}\n{100 * ratio:.1f}%",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    totals = counts.groupby("split")["count"].sum()
    axes.set_xticks(np.arange(len(splits)), [f"{s}\n(n = {int(totals.get(s, 0))})" for s in splits])
    axes.set_ylim(0, top * 1.25)
    axes.set_ylabel("crops")
    axes.set_title("Class balance per split (count and share of the split)")
    axes.legend(title="class", frameon=False, ncols=min(len(inputs.classes), 4))
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def examples_figure(inputs: FigureInputs):
    """A row of training crops per class (picked by a fixed seed), each row titled."""
    plt = _pyplot()
    train = integrity.load_split(inputs.cache_dir, "train", classes=inputs.classes, mmap=True)
    x, y = train.x, train.y
    rng = np.random.default_rng(EXAMPLES_SEED)
    columns = EXAMPLES_PER_CLASS
    figure, axes = plt.subplots(
        len(inputs.classes), columns, figsize=(1.2 * columns, 1.35 * len(inputs.classes) + 0.5), squeeze=False
    )
    for k, label in enumerate(inputs.classes):
        members = np.flatnonzero(y == k)
        chosen = np.sort(rng.choice(members, size=min(columns, len(members)), replace=False)) if len(members) else []
        for column in range(columns):
            ax = axes[k, column]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
            if column < len(chosen):
                crop = np.asarray(x[chosen[column]])
                if crop.shape[2] == 1:
                    ax.imshow(crop[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                else:
                    ax.imshow(crop, interpolation="nearest")
        axes[k, 0].set_title(f"{label} ({len(members)} train crops)", loc="left", fontsize=9)
        if not len(members):
            axes[k, 0].text(0.0, 0.5, "no training crops", transform=axes[k, 0].transAxes, fontsize=8)
    figure.suptitle(f"Example training crops per class ({x.shape[1]}x{x.shape[2]}, as cached)")
    figure.tight_layout()
    return figure


def box_sizes_figure(inputs: FigureInputs):
    """Per class, histograms of box width and height in source pixels (all splits together)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    splits = [integrity.load_split(inputs.cache_dir, split, classes=inputs.classes, mmap=True) for split in SPLITS]
    index = pd.concat([pd.DataFrame(split.index) for split in splits], ignore_index=True)
    boxes = index[["xmin", "ymin", "xmax", "ymax"]].apply(pd.to_numeric, errors="coerce")
    sizes = {"width": boxes["xmax"] - boxes["xmin"], "height": boxes["ymax"] - boxes["ymin"]}
    crop_size = int(splits[0].x.shape[1])
    known = {name: values.dropna() for name, values in sizes.items()}
    if not len(known["width"]):  # an array data set: whole images, no boxes
        figure, axes = plt.subplots(figsize=(6, 1.5))
        axes.axis("off")
        axes.text(
            0.5,
            0.5,
            f"No boxes: an array data set, whole images resized to {crop_size}x{crop_size}.",
            ha="center",
            va="center",
            fontsize=11,
        )
        axes.set_title("Box sizes per class")
        return figure
    figure, axes = plt.subplots(
        len(inputs.classes), 2, figsize=(9, 1.6 * len(inputs.classes) + 1), sharex="col", squeeze=False
    )
    for column, (name, values) in enumerate(known.items()):
        bins = np.histogram_bin_edges(values, bins=30)
        for k, label in enumerate(inputs.classes):
            ax = axes[k, column]
            mine = values[index.loc[values.index, "label"] == label]
            ax.hist(mine, bins=bins, color=plt.get_cmap("tab10")(k % 10))
            ax.axvline(crop_size, color="black", linestyle="--", linewidth=1)
            median = f", median {mine.median():.0f} px" if len(mine) else ""
            ax.set_title(f"{label}: box {name} (n = {len(mine)}{median})", fontsize=9)
            ax.spines[["top", "right"]].set_visible(False)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            if column == 0:
                ax.set_ylabel("boxes", fontsize=8)
        axes[-1, column].set_xlabel(f"box {name} in source pixels (dashed: crop size {crop_size})")
    figure.suptitle("Box sizes per class (all splits)")
    figure.tight_layout()
    return figure


# figure name (the rule's {figure} wildcard) -> renderer
FIGURES: dict[str, Callable[[FigureInputs], object]] = {
    "class_balance": class_balance_figure,
    "examples": examples_figure,
    "box_sizes": box_sizes_figure,
}


# ---------------------------------------------------------------- command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir", required=True, type=Path, help="folder with the cached {split}_x/_y.npy and _index.csv"
    )
    parser.add_argument("--spec", required=True, help='JSON: {"classes": [...]}')
    parser.add_argument("--counts", required=True, type=Path, help="class_counts.csv (written, or read with --figure)")
    parser.add_argument("--normalization", type=Path, help="normalization.json to write")
    parser.add_argument("--figure", choices=sorted(FIGURES), help="render this figure instead")
    parser.add_argument("--out", type=Path, help="the figure's PNG (with --figure)")


def run(args: argparse.Namespace) -> None:
    classes = json_option(args.spec, "--spec").get("classes")
    if not isinstance(classes, list) or not classes:
        raise ConfigError('--spec must be {"classes": [...]}')
    if args.figure:
        if args.out is None:
            raise ConfigError("--figure needs --out (the PNG to write)")
        figure = FIGURES[args.figure](FigureInputs(args.cache_dir, classes, args.counts))
        atomic.save_figure(args.out, figure)
        log.info("wrote %s", args.out)
        return
    if args.normalization is None:
        raise ConfigError("give --normalization (counts and normalization) or --figure and --out")
    counts = count_table(args.cache_dir, classes)
    # The seal: sha256 of every cache file, checked by the stages that read the cache after this one.
    # Taken from the cache stage's own record, after checking the files still match it: a file
    # swapped in since (newer date, so Snakemake reruns this stage) must be refused, not sealed.
    norm = {**normalization(args.cache_dir), integrity.SEAL_KEY: integrity.verified_checksums(args.cache_dir)}
    atomic.write_csv(args.counts, counts)
    atomic.write_json(args.normalization, norm)
    for split, rows in counts.groupby("split", sort=False):
        shares = ", ".join(f"{r.label} {r.count} ({100 * r.ratio:.1f}%)" for r in rows.itertuples())
        log.info("%s: %d crops: %s", split, rows["count"].sum(), shares)
    log.info("train mean %s std %s", np.round(norm["mean"], 4).tolist(), np.round(norm["std"], 4).tolist())
