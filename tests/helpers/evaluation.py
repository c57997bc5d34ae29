"""A cache and a contract-format checkpoint in a temporary folder, to evaluate, draw and predict
from (test_evaluate, test_figures, test_predict, test_reliability_saved_files).

    cache_dir = write_cache(tmp_path / "cache")              # + ../normalization.json, checksums.json
    write_checkpoint(tmp_path / "models/a/checkpoint.pt", cache_dir)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.data import integrity
from maskflow.io.hashing import sha256_file, state_sha256

CLASSES = ["good", "bad", "none"]
CNN = {"type": "cnn", "blocks": [{"channels": 4, "kernel": 3, "pool": 2}, {"channels": 6, "kernel": 3}], "head": [8]}
MLP_2D = {"type": "mlp", "hidden": [8], "bottleneck": 2}


def write_cache(cache_dir: Path, counts=None, size: int = 12, channels: int = 3, seed: int = 0) -> Path:
    """{split}_x/y.npy and {split}_index.csv with class-dependent brightness, plus normalization.json."""
    counts = counts or {"train": 30, "val": 12, "test": 15}
    rng = np.random.default_rng(seed)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for split, n in counts.items():
        y = rng.choice(len(CLASSES), size=n, p=[0.6, 0.3, 0.1]).astype(np.int64)
        x = np.clip(rng.normal(60 + 70 * y[:, None, None, None], 30, (n, size, size, channels)), 0, 255).astype(
            np.uint8
        )
        np.save(cache_dir / f"{split}_x.npy", x)
        np.save(cache_dir / f"{split}_y.npy", y)
        pd.DataFrame(
            {
                "row_id": [f"{split}.csv:{i + 1}" for i in range(n)],
                "photo": [f"images/p{i // 3}.jpg" for i in range(n)],
                "xmin": 1,
                "ymin": 2,
                "xmax": 11,
                "ymax": 12,
                "label": [CLASSES[k] for k in y],
                "label_index": y,
            }
        ).to_csv(cache_dir / f"{split}_index.csv", index=False)
    train_x = np.load(cache_dir / "train_x.npy") / 255.0
    normalization = {
        "mean": train_x.mean(axis=(0, 1, 2)).tolist(),
        "std": train_x.std(axis=(0, 1, 2)).tolist(),
        "scale": 255,
        "channels": channels,
        "size": size,
        "computed_on": "train",
        "train_sha256": sha256_file(cache_dir / "train_x.npy"),
    }
    (cache_dir.parent / "normalization.json").write_text(json.dumps(normalization))
    integrity.write_checksums(cache_dir)  # as the cache stage ends
    return cache_dir


def write_checkpoint(path: Path, cache_dir: Path, arch=CNN, name: str = "model_a", seed: int = 0, **extra) -> Path:
    """A checkpoint in the contract's format (docs/contracts.md) with seeded random weights."""
    import torch

    from maskflow.models import build_model
    from maskflow.models.checkpoint import FORMAT, save_checkpoint, versions

    normalization = json.loads((cache_dir.parent / "normalization.json").read_text())
    torch.manual_seed(seed)
    model = build_model(arch, normalization["channels"], normalization["size"], len(CLASSES))
    spec = {
        "name": name,
        "kind": "model",
        "dataset": "masks",
        "seed": seed,
        "group": name,
        "description": "test model",
        "arch": arch,
        "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 8, "epochs": 2},
        "sweep": None,
    }
    checkpoint = {
        "format": FORMAT,
        "model_state": model.state_dict(),
        "arch": arch,
        "classes": CLASSES,
        "normalization": normalization,
        "image": {"size": normalization["size"], "channels": normalization["channels"]},
        "spec": spec,
        "seed": seed,
        "epoch": 2,
        "best_epoch": 1,
        "versions": versions(),
        "data_sha256": {key: sha256_file(cache_dir / f"{key}.npy") for key in ("train_x", "train_y", "val_x", "val_y")},
        "val_metrics": {"loss": 1.0, "accuracy": 0.5},
        "train_seconds": 1.5,
        "param_count": sum(p.numel() for p in model.parameters()),
        "weights_sha256": state_sha256(model.state_dict()),  # as maskflow train records it
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, checkpoint)
    return path


def write_numpy_checkpoint(path: Path, cache_dir: Path, arch: dict, state: dict) -> Path:
    """The contract's checkpoint for a numpy_mlp (weights_format numpy), from write_checkpoint's fields."""
    from maskflow.io.hashing import state_sha256
    from maskflow.models.checkpoint import load_checkpoint, save_checkpoint

    template = load_checkpoint(write_checkpoint(path.parent / "template.pt", cache_dir))
    checkpoint = {**template, "arch": arch, "model_state": state, "weights_format": "numpy"}
    checkpoint["spec"] = {**template["spec"], "arch": arch}
    checkpoint["weights_sha256"] = state_sha256(state)
    save_checkpoint(path, checkpoint)
    return path
