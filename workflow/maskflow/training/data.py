"""The train stage's input: the cached train and val arrays, loaded once onto the training device.

    data = load_data(Path("results/masks/cache"), Path("results/masks/stats/normalization.json"),
                     classes=None, device=torch.device("cuda"))
    data.train.x, data.train.y, data.train.y_np   # uint8 N x C x H x W and int64 N on the device; labels in numpy
    data.classes, data.normalization, data.sha256, data.size, data.channels

Both trainers (maskflow.training.torch_trainer, maskflow.training.numpy_mlp) call `load_data` once; mini-batches are then taken by
indexing these tensors (maskflow.training.loop). Every array goes through
`maskflow.data.integrity.load_split`, checked against the seal in normalization.json, and a
normalization.json computed on another train_x.npy is refused. Class names come from
--classes, else from the cache's {split}_index.csv.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from maskflow.data import integrity
from maskflow.errors import DataError
from maskflow.io.hashing import sha256_file

if TYPE_CHECKING:  # the NumPy trainer loads arrays with device=None and never imports torch
    import torch

# The `maskflow train` command's logger: its lines keep one name whichever module writes them.
log = logging.getLogger("maskflow.training.train")

ARRAYS = ("train_x", "train_y", "val_x", "val_y")


@dataclass
class Split:
    x: torch.Tensor  # uint8 N x C x H x W on the training device (a NumPy array with device=None)
    y: torch.Tensor  # int64 N on the training device (NumPy with device=None)
    y_np: np.ndarray


@dataclass
class Data:
    train: Split
    val: Split
    classes: list[str]
    normalization: dict
    sha256: dict[str, str]
    size: int
    channels: int


def _device_split(cache_dir: Path, split: str, classes: list[str], seal, device: torch.device | None) -> Split:
    cached = integrity.load_split(cache_dir, split, classes=classes, seal=seal, index=False)
    if device is None:  # NumPy arrays: uint8 N x C x H x W (a view of the cache) and int64 labels
        return Split(cached.x.transpose(0, 3, 1, 2), cached.y, cached.y)
    import torch

    from maskflow import inference

    return Split(inference.as_nchw(cached.x, device), torch.from_numpy(cached.y).to(device), cached.y)


def read_classes(cache_dir: Path) -> list[str]:
    """Class names from the cache's index files (label, label_index) when --classes is not given."""
    import pandas as pd

    names: dict[int, str] = {}
    for split in ("train", "val"):
        path = cache_dir / f"{split}_index.csv"
        if path.is_file():
            index = pd.read_csv(path, usecols=["label", "label_index"])
            names.update(zip(index["label_index"].astype(int), index["label"].astype(str)))
    if not names:
        raise DataError(f"{cache_dir}: no train_index.csv / val_index.csv to read class names from; pass --classes")
    missing = [i for i in range(max(names) + 1) if i not in names]
    if missing:
        log.warning("classes %s have no crops in train or val; named class%s", missing, missing[0])
    return [names.get(i, f"class{i}") for i in range(max(names) + 1)]


def load_normalization(path: Path, x: torch.Tensor | np.ndarray, train_sha: str) -> dict:
    try:
        normalization = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: not found (the stats stage writes it)") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    channels, size = x.shape[1], x.shape[2]
    for key in ("mean", "std"):
        values = normalization.get(key)
        if not isinstance(values, list) or len(values) != channels:
            raise DataError(
                f"{path}: {key!r} must list {channels} numbers (one per channel of the crops), got {values!r}"
            )
    if any(s <= 0 for s in normalization["std"]):
        raise DataError(f"{path}: every std must be > 0, got {normalization['std']}")
    if normalization.get("train_sha256") not in (None, train_sha):
        raise DataError(
            f"{path}: computed on a train_x.npy with sha256 {normalization['train_sha256'][:12]}..., but the cache "
            f"holds {train_sha[:12]}...: rerun the stats stage"
        )
    return {**normalization, "channels": channels, "size": size, "train_sha256": train_sha}


def load_data(
    cache_dir: Path, normalization_path: Path, classes: list[str] | None, device: torch.device | None
) -> Data:
    """The train and val splits on `device`, or as NumPy arrays with `device=None` (no torch import)."""
    classes = classes or read_classes(cache_dir)
    sha256 = {name: sha256_file(cache_dir / f"{name}.npy") for name in ARRAYS if (cache_dir / f"{name}.npy").is_file()}
    seal = integrity.read_seal(normalization_path) if normalization_path.is_file() else None
    train = _device_split(cache_dir, "train", classes, seal, device)
    val = _device_split(cache_dir, "val", classes, seal, device)
    if len(train.y) == 0:
        raise DataError(f"{cache_dir / 'train_x.npy'}: the train split is empty; nothing to train on")
    if val.x.shape[1:] != train.x.shape[1:] and len(val.y):
        raise DataError(
            f"{cache_dir / 'val_x.npy'}: crops are {tuple(val.x.shape[1:])}, train crops {tuple(train.x.shape[1:])}"
        )
    normalization = load_normalization(normalization_path, train.x, sha256["train_x"])
    return Data(train, val, list(classes), normalization, sha256, train.x.shape[2], train.x.shape[1])
