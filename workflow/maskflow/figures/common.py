"""Helpers every figure module shares: reading evaluation outputs, class colours, crop display.

Not a command of its own; `maskflow figure` (figures/command.py) renders through the family
modules, which import from here so that a class has the same colour in every figure.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from maskflow.errors import DataError  # noqa: E402


def class_colors(k: int) -> list[tuple[float, float, float]]:
    """One distinct colour per class index, the same in every figure (tab10, then tab20)."""
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    return [tuple(cmap(i % cmap.N)[:3]) for i in range(k)]


def read_rows(path: str | Path, what: str) -> list[dict[str, str]]:
    """The rows of a CSV the workflow wrote (predictions, annotations), every value a string.
    Read with the csv module: pandas would add 0.3-0.4 s of import to every gallery job."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def show_crop(ax, crop: np.ndarray) -> None:
    """Draw one uint8 H x W x C crop without axes (gray crops in gray, not a false colour map)."""
    if crop.ndim == 3 and crop.shape[2] == 1:
        ax.imshow(crop[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(crop, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def message_figure(title: str, message: str):
    """A small figure saying why there is nothing to draw (an empty split, no mistakes, ...)."""
    figure, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, wrap=True)
    return figure


def grid_shape(n: int, max_cols: int = 6) -> tuple[int, int]:
    cols = max(1, min(max_cols, n))
    return max(1, -(-n // cols)), cols


def load_model(job):
    """(model in eval mode on CPU, checkpoint) of a figure job; one thread, figures run side by side."""
    import torch

    from maskflow.models.checkpoint import load_model as load

    torch.set_num_threads(1)
    return load(job.path("checkpoint"), "cpu")


def read_explanations(job) -> dict[str, np.ndarray]:
    """explanations.npz of a figure job (maskflow.evaluation.explain, written by `maskflow evaluate`),
    or DataError naming the file when it is not one."""
    from maskflow.evaluation.explain import FORMAT

    path = job.path("explanations")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # cut short, overwritten, not an npz
        raise DataError(f"{path}: not a readable explanations file ({error}); run `maskflow evaluate` again") from None
    if str(arrays.get("format", "")) != FORMAT:
        found = str(arrays.get("format", "missing"))
        raise DataError(f"{path}: not a {FORMAT} file (format {found!r}); run `maskflow evaluate` again")
    return arrays


def cached_crops(job, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Cached crops (uint8 N x H x W x C) and labels of one split, through the checked loader
    (maskflow.data.integrity.load_split: a truncated or mismatched cache file is refused)."""
    from maskflow.data import integrity

    cached = integrity.load_split(job.path("cache_dir"), split, classes=job.classes or None, index=False)
    return cached.x, cached.y
