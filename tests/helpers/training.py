"""Blob caches and in-process `maskflow train` runs (test_train, test_checkpoint, test_resume).

cache = write_cache(tmp_path / "cache")                  # {train,val}_{x,y}.npy + normalization.json
checkpoint = train(cache, tmp_path / "out", spec_with(epochs=2))
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from maskflow.cli import build_parser
from maskflow.training import command as train_command

CLASSES = ["good", "bad", "none"]
SPEC = {
    "name": "blobs",
    "seed": 1,
    "device": "cpu",
    "arch": {
        "type": "cnn",
        "blocks": [
            {"channels": 6, "pool": 2, "batch_norm": True, "dropout": 0.1},
            {"channels": 8, "pool": 2, "activation": "rrelu"},
        ],
        "head": [16],
        "dropout": 0.2,
    },
    "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 3, "latent_epochs": [1, 3]},
}


def spec_with(**train) -> dict:
    spec = copy.deepcopy(SPEC)
    spec["train"].update(train)
    return spec


def blobs(n: int, rng: np.random.Generator, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Noisy crops with a class-dependent bright patch (learnable, not trivially), 70/20/10 %."""
    y = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    x = rng.normal(110, 45, size=(n, size, size, 3))
    for k in range(3):
        x[y == k, 4 * k : 4 * k + 6, 3:11, k] += 25
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def write_cache(folder: Path, n_train: int = 200, n_val: int = 60, seed: int = 0) -> Path:
    """{train,val}_{x,y}.npy and normalization.json as the data stage writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        x, y = blobs(n, rng)
        np.save(folder / f"{split}_x.npy", x)
        np.save(folder / f"{split}_y.npy", y)
    x = np.load(folder / "train_x.npy") / 255.0
    normalization = {
        "mean": x.mean(axis=(0, 1, 2)).tolist(),
        "std": x.std(axis=(0, 1, 2)).tolist(),
        "scale": 255,
        "channels": 3,
        "size": 16,
        "computed_on": "train",
        "train_sha256": hashlib.sha256((folder / "train_x.npy").read_bytes()).hexdigest(),
    }
    (folder / "normalization.json").write_text(json.dumps(normalization))
    return folder


def cli_args(cache: Path, out: Path, spec: dict, threads: int = 1, classes=CLASSES) -> list[str]:
    return [
        "train",
        "--spec",
        json.dumps(spec),
        "--cache-dir",
        str(cache),
        "--normalization",
        str(cache / "normalization.json"),
        "--checkpoint",
        str(out / "checkpoint.pt"),
        "--history",
        str(out / "history.csv"),
        "--latent",
        str(out / "latent.npz"),
        "--resume",
        str(out / "resume.pt"),
        "--architecture",
        str(out / "architecture.txt"),
        "--threads",
        str(threads),
        *(["--classes", json.dumps(classes)] if classes else []),
    ]


def train(cache: Path, out: Path, spec: dict, **kwargs) -> dict:
    """Run `maskflow train` in this process (its real argument parser); returns the checkpoint."""
    args = build_parser("train").parse_args(cli_args(cache, out, spec, **kwargs))
    return train_command.run(args)


def history_without_seconds(path: Path) -> str:
    return pd.read_csv(path).drop(columns="seconds").to_csv(index=False)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
