"""`maskflow train` on small blob arrays in tmp dirs: reproducibility, options, outputs, errors.

Its helpers (`write_cache`, `train`, ...) live in tests/helpers/training.py."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from maskflow.errors import ConfigError, DataError
from maskflow.runtime.device import MixedPrecision, amp_dtype, configure, resolve_device
from maskflow.training.loop import batch_bounds
from maskflow.training.optim import CrossEntropy
from maskflow.training.sampling import EpochSampler, class_weights, loss_weights

from helpers import TINY_CONFIG
from helpers.snakemake import run_snakemake
from helpers.training import (
    CLASSES,
    SPEC,
    assert_same_weights,
    cli_args,
    history_without_seconds,
    spec_with,
    train,
    write_cache,
)


@pytest.fixture
def cache(tmp_path) -> Path:
    return write_cache(tmp_path / "cache")


# ----------------------------------------------------------------------------- reproducibility


def test_same_config_and_seed_give_identical_history_and_weights(cache, tmp_path):
    # Every random source at once: dropout, rrelu, augmentation, weighted sampling.
    spec = spec_with(
        augment={"hflip": True, "vflip": True, "rotate": 15, "translate": 0.1, "brightness": 0.2, "contrast": 0.2},
        imbalance={"method": "weighted_sampler"},
    )
    first = train(cache, tmp_path / "a", spec)
    second = train(cache, tmp_path / "b", spec)
    assert history_without_seconds(tmp_path / "a" / "history.csv") == history_without_seconds(
        tmp_path / "b" / "history.csv"
    )
    assert_same_weights(first["model_state"], second["model_state"])
    other = train(cache, tmp_path / "c", {**spec, "seed": 2})
    assert not torch.equal(first["model_state"]["classifier.weight"], other["model_state"]["classifier.weight"])


def test_outputs_follow_the_contract(cache, tmp_path):
    checkpoint = train(cache, tmp_path / "out", SPEC)
    history = pd.read_csv(tmp_path / "out" / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
    assert history["epoch"].tolist() == [1, 2, 3]
    assert (history["seconds"] > 0).all()
    for key in (
        "format",
        "model_state",
        "arch",
        "classes",
        "normalization",
        "image",
        "spec",
        "seed",
        "epoch",
        "best_epoch",
        "versions",
        "data_sha256",
        "val_metrics",
        "train_seconds",
        "param_count",
    ):
        assert key in checkpoint, key
    assert checkpoint["classes"] == CLASSES
    assert checkpoint["image"] == {"size": 16, "channels": 3}
    assert checkpoint["arch"]["blocks"][0]["padding"] == "same"  # defaults are recorded
    assert set(checkpoint["data_sha256"]) == {"train_x", "train_y", "val_x", "val_y"}
    assert checkpoint["data_sha256"]["val_x"] == hashlib.sha256((cache / "val_x.npy").read_bytes()).hexdigest()
    assert checkpoint["val_metrics"] == {"loss": history["val_loss"].iloc[-1], "accuracy": history["val_acc"].iloc[-1]}
    assert set(checkpoint["versions"]) == {"python", "torch", "numpy", "maskflow"}
    latent = np.load(tmp_path / "out" / "latent.npz")
    assert latent["epochs"].tolist() == [1, 3]
    assert latent["features_e1"].shape == (60, 16) and latent["features_e1"].dtype == np.float32
    assert np.array_equal(latent["labels"], np.load(cache / "val_y.npy"))
    assert not (tmp_path / "out" / "resume.pt").exists()  # removed after a successful finish


def test_bottleneck_model_snapshots_its_final_features_without_latent_epochs(cache, tmp_path):
    spec = {
        **SPEC,
        "arch": {"type": "mlp", "hidden": [32], "bottleneck": 2, "batch_norm": True},
        "train": {"epochs": 2},
    }
    train(cache, tmp_path / "out", spec)
    latent = np.load(tmp_path / "out" / "latent.npz")
    assert latent["epochs"].tolist() == [2] and latent["features_e2"].shape == (60, 2)


def test_no_latent_epochs_gives_empty_arrays(cache, tmp_path):
    train(cache, tmp_path / "out", spec_with(latent_epochs=[], epochs=1))
    latent = np.load(tmp_path / "out" / "latent.npz")
    assert latent["epochs"].size == 0 and latent["labels"].size == 0


# ------------------------------------------------------------------------------ training options


def test_early_stopping_restores_the_best_epoch(cache, tmp_path):
    # A learning rate far too high makes val_loss jump about, so patience 1 stops early.
    spec = spec_with(lr=0.5, optimizer="sgd", epochs=30, early_stopping={"monitor": "val_loss", "patience": 1})
    checkpoint = train(cache, tmp_path / "out", spec)
    history = pd.read_csv(tmp_path / "out" / "history.csv")
    assert len(history) < 30
    best = history.loc[history["val_loss"].idxmin()]
    assert checkpoint["best_epoch"] == best["epoch"] < checkpoint["epoch"] == len(history)
    assert checkpoint["val_metrics"] == {"loss": best["val_loss"], "accuracy": best["val_acc"]}


@pytest.mark.parametrize(
    "schedule, expected",
    [
        ({"type": "step", "every": 2, "factor": 0.5}, [0.01, 0.01, 0.005, 0.005, 0.0025]),
        ({"type": "none"}, [0.01] * 5),
    ],
)
def test_lr_schedules(cache, tmp_path, schedule, expected):
    train(cache, tmp_path / "out", spec_with(epochs=5, schedule=schedule, latent_epochs=[]))
    assert pd.read_csv(tmp_path / "out" / "history.csv")["lr"].tolist() == pytest.approx(expected)


def test_cosine_schedule_decreases_to_near_zero(cache, tmp_path):
    train(cache, tmp_path / "out", spec_with(epochs=4, schedule={"type": "cosine"}, latent_epochs=[]))
    lr = pd.read_csv(tmp_path / "out" / "history.csv")["lr"].tolist()
    assert lr[0] == 0.01 and all(a > b for a, b in zip(lr, lr[1:]))


@pytest.mark.parametrize(
    "options",
    [
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
        {"optimizer": "adamw", "weight_decay": 0.01},
        {"imbalance": {"method": "weighted_loss", "weights": {"none": 5.0}}, "label_smoothing": 0.1},
        {"imbalance": {"method": "oversample"}, "init": {"weights": "kaiming", "bias": "zeros"}},
        {"init": {"weights": "xavier", "bias": "normal", "std": 0.1}, "mixed_precision": False},
    ],
)
def test_training_options_train_and_learn(cache, tmp_path, options):
    train(cache, tmp_path / "out", spec_with(epochs=3, latent_epochs=[], **options))
    history = pd.read_csv(tmp_path / "out" / "history.csv")
    assert np.isfinite(history[["train_loss", "val_loss"]].to_numpy()).all()
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]


@pytest.mark.parametrize(
    "arch", [{"type": "mlp", "hidden": [16], "activation": "tanh"}, {"type": "resnet", "width": 4}]
)
def test_other_architectures_train(cache, tmp_path, arch):
    checkpoint = train(cache, tmp_path / "out", {**SPEC, "arch": arch, "train": {"epochs": 1, "batch_size": 32}})
    assert checkpoint["arch"]["type"] == arch["type"] and checkpoint["epoch"] == 1


def test_a_type_with_its_own_trainer_is_dispatched_to_it(cache, tmp_path):
    from maskflow.inference import predict_proba, proba_metrics
    from maskflow.models.checkpoint import load_model

    spec = {
        **SPEC,
        "arch": {"type": "numpy_mlp", "hidden": [16]},
        "train": {"optimizer": "sgd", "lr": 0.05, "epochs": 2},
    }
    checkpoint = train(cache, tmp_path / "out", spec)
    assert checkpoint["arch"]["type"] == "numpy_mlp" and len(pd.read_csv(tmp_path / "out" / "history.csv")) == 2
    model, ckpt = load_model(tmp_path / "out" / "checkpoint.pt")
    proba = predict_proba(model, ckpt, np.load(cache / "val_x.npy"))
    assert proba_metrics(proba, np.load(cache / "val_y.npy")) == ckpt["val_metrics"]


def test_zero_weights_do_not_learn(cache, tmp_path):
    # The classic lesson: with every weight zero no gradient reaches the hidden layers.
    spec = {
        **SPEC,
        "arch": {"type": "mlp", "hidden": [16, 16]},
        "train": {"epochs": 2, "init": {"weights": "zeros", "bias": "zeros"}},
    }
    checkpoint = train(cache, tmp_path / "out", spec)
    assert torch.count_nonzero(checkpoint["model_state"]["trunk.1.weight"]) == 0


def test_threads_are_applied(cache, tmp_path):
    train(cache, tmp_path / "out", spec_with(epochs=1, latent_epochs=[]), threads=2)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)


def test_a_last_batch_of_one_sample_joins_the_previous_one(tmp_path):
    assert batch_bounds(33, 16) == [(0, 16), (16, 33)]
    assert batch_bounds(32, 16) == [(0, 16), (16, 32)]
    assert batch_bounds(1, 16) == [(0, 1)]
    # batch norm in training mode fails on a batch of one: 33 samples with batch size 16 must train
    cache = write_cache(tmp_path / "cache", n_train=33, n_val=5)
    train(
        cache,
        tmp_path / "out",
        {**SPEC, "arch": {"type": "mlp", "hidden": [8], "batch_norm": True}, "train": {"epochs": 1, "batch_size": 16}},
    )


def test_classes_default_to_the_cache_index(cache, tmp_path):
    for split in ("train", "val"):
        y = np.load(cache / f"{split}_y.npy")
        pd.DataFrame({"label": [CLASSES[i] for i in y], "label_index": y}).to_csv(
            cache / f"{split}_index.csv", index=False
        )
    checkpoint = train(cache, tmp_path / "out", spec_with(epochs=1, latent_epochs=[]), classes=None)
    assert checkpoint["classes"] == CLASSES


# ------------------------------------------------------------------------------ class imbalance


def test_inverse_frequency_and_given_weights():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    assert class_weights({"method": "weighted_loss"}, y, CLASSES) == pytest.approx([10 / 18, 10 / 9, 10 / 3])
    assert loss_weights({"method": "weighted_loss", "weights": {"none": 4}}, y, CLASSES).tolist() == [1, 1, 4]
    assert loss_weights({"method": "weighted_sampler"}, y, CLASSES) is None
    with pytest.raises(ConfigError, match="unknown class 'nope'"):
        class_weights({"method": "weighted_loss", "weights": {"nope": 2}}, y, CLASSES)
    with pytest.raises(ConfigError, match="only used by"):
        class_weights({"method": "oversample", "weights": {"bad": 2}}, y, CLASSES)


def test_weighted_sampler_balances_classes_and_oversample_equalises_counts():
    y = np.array([0] * 700 + [1] * 200 + [2] * 100)
    sampler = EpochSampler({"method": "weighted_sampler"}, y, CLASSES, torch.Generator().manual_seed(0))
    drawn = np.bincount(y[sampler.epoch().numpy()], minlength=3) / len(y)
    assert drawn == pytest.approx([1 / 3] * 3, abs=0.05)
    over = EpochSampler({"method": "oversample"}, y, CLASSES, torch.Generator().manual_seed(0)).epoch().numpy()
    assert np.bincount(y[over]).tolist() == [700, 700, 700]
    assert set(over[y[over] == 2]) == set(range(900, 1000))  # every minority sample appears
    plain = EpochSampler({"method": "none"}, y, CLASSES, torch.Generator().manual_seed(0)).epoch().numpy()
    assert sorted(plain) == list(range(1000))


# ------------------------------------------------------------------------------ the command line


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "maskflow", *args], capture_output=True, text=True, timeout=120)


def test_cli_logs_one_progress_line_per_epoch(cache, tmp_path):
    process = run_cli(cli_args(cache, tmp_path / "out", spec_with(epochs=2)))
    assert process.returncode == 0, process.stderr
    lines = [line for line in process.stderr.splitlines() if " epoch " in line and "ETA" in line]
    assert len(lines) == 2
    for token in ("epoch 2/2", "train_loss", "train_acc", "val_loss", "val_acc", "lr 0.01", "ETA 0:00"):
        assert token in lines[1]


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda c: (c / "val_x.npy").unlink(), "val_x.npy: not found"),
        (
            lambda c: np.save(c / "train_y.npy", np.full(200, 7)),
            "train_y.npy: label 7 at position 0 is not an index of the 3 classes",
        ),
        (
            lambda c: (c / "normalization.json").write_text(json.dumps({"mean": [0.5], "std": [0.2]})),
            "'mean' must list 3 numbers",
        ),
        (lambda c: np.save(c / "train_x.npy", np.zeros((200, 16, 16, 3), np.uint8)), "rerun the stats stage"),
    ],
)
def test_bad_data_is_reported_with_the_file(cache, tmp_path, breakage, message):
    breakage(cache)
    with pytest.raises(DataError, match=re.escape(message)):
        train(cache, tmp_path / "out", SPEC)


def test_cli_prints_user_mistakes_without_traceback(cache, tmp_path):
    (cache / "val_y.npy").unlink()
    process = run_cli(cli_args(cache, tmp_path / "out", SPEC))
    assert process.returncode == 2
    assert "maskflow train: error:" in process.stderr and "val_y.npy: not found" in process.stderr
    assert "Traceback" not in process.stderr


def test_bad_spec_is_reported_with_the_key(cache, tmp_path):
    bad = {**SPEC, "arch": {"type": "cnn", "blocks": [{"channels": 4, "kernel": 0}]}}
    with pytest.raises(ConfigError, match=r"models.blobs.arch: blocks\[0\].kernel: must be an integer >= 1, got 0"):
        train(cache, tmp_path / "out", bad)
    shrinking = {**SPEC, "arch": {"type": "cnn", "blocks": [{"channels": 4, "pool": 4}] * 3}}
    with pytest.raises(ConfigError, match=r"blocks\[2\]: the 1x1 feature map shrinks to nothing"):
        train(cache, tmp_path / "out", shrinking)
    with pytest.raises(ConfigError, match="val split is empty"):
        empty_val = write_cache(tmp_path / "c2", n_val=0)
        train(empty_val, tmp_path / "out", spec_with(early_stopping={"patience": 2}))


# ------------------------------------------------------------------------------ the workflow


def test_snakemake_trains_one_model_and_reruns_only_the_model_whose_settings_changed(tmp_path):
    targets = [f"results/masks/models/{m}/checkpoint.pt" for m in ("mlp", "lr-lr0.1")]
    run_snakemake(tmp_path, *targets, timeout=300)
    checkpoint = torch.load(tmp_path / "results/masks/models/mlp/checkpoint.pt", weights_only=True)
    assert checkpoint["classes"] == ["good", "bad", "none"] and checkpoint["spec"]["name"] == "mlp"
    log = (tmp_path / "results/masks/logs/train/mlp.log").read_text()
    assert "epoch 3/3" in log

    # A figure setting or a description changes nothing about training: nothing reruns.
    config = yaml_load(TINY_CONFIG)
    config["models"]["mlp"]["figures"] = {"misclassified": 9}
    config["models"]["mlp"]["description"] = "edited"
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml_dump(config))
    assert "rule train" not in run_snakemake(tmp_path, *targets, "--dry-run", config=edited).stdout

    # Editing the mlp's learning rate reruns the mlp; the sweep models (based on it, with their
    # own lr) do not.
    config["models"]["mlp"]["train"]["lr"] = 0.02
    edited.write_text(yaml_dump(config))
    dry = run_snakemake(tmp_path, *targets, "--dry-run", config=edited)
    assert "rule train" in dry.stdout
    assert "wildcards: dataset=masks, model=mlp" in dry.stdout
    assert "model=lr-lr0.1" not in dry.stdout


def yaml_load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def yaml_dump(value: dict) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False)


# ------------------------------------------------------------------------------ loss and device


@pytest.mark.parametrize(
    "weight, smoothing", [(None, 0.0), ([0.5, 1.0, 3.0], 0.0), ([0.5, 1.0, 3.0], 0.2), (None, 0.1)]
)
def test_cross_entropy_matches_torch_definition(weight, smoothing):
    logits = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (20,), generator=torch.Generator().manual_seed(1))
    w = None if weight is None else torch.tensor(weight)
    ours = CrossEntropy(w, smoothing, 3)(logits, y)
    expected = torch.nn.functional.cross_entropy(logits, y, weight=w, label_smoothing=smoothing)
    assert torch.allclose(ours, expected, atol=1e-6)


def test_device_choice():
    assert resolve_device("auto", cuda_available=True).type == "cuda"
    assert resolve_device("auto", cuda_available=False).type == "cpu"
    assert resolve_device("cpu", cuda_available=True).type == "cpu"
    assert resolve_device("cuda", cuda_available=True).type == "cuda"
    with pytest.raises(ConfigError, match="'cuda' was asked for but PyTorch sees no CUDA device"):
        resolve_device("cuda", cuda_available=False)
    with pytest.raises(ConfigError, match="allowed values: auto, cpu, cuda"):
        resolve_device("tpu")


def test_mixed_precision_choice():
    assert amp_dtype("cuda", True, bf16_supported=True) is torch.bfloat16
    assert amp_dtype("cuda", True, bf16_supported=False) is torch.float16
    assert amp_dtype("cuda", False, bf16_supported=True) is None
    assert amp_dtype("cpu", True, bf16_supported=True) is None
    cpu = MixedPrecision.for_device(torch.device("cpu"), enabled=True)
    assert cpu.dtype is None and not cpu.scaler.is_enabled() and cpu.describe() == "off"


def test_cuda_settings_are_made_before_any_cuda_work(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    configure(torch.device("cuda"), threads=1)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
    assert not torch.is_deterministic_algorithms_warn_only_enabled()  # an error, not a warning
