"""Checkpoints: reloading reproduces the logged validation metrics exactly; verification refuses
other arrays or another normalization; corrupt files give a CheckpointError."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from maskflow.errors import CheckpointError
from maskflow.inference import predict_proba, proba_metrics
from maskflow.io.hashing import sha256_file
from maskflow.models.checkpoint import load_checkpoint, load_model, verify_data

from helpers.training import SPEC, spec_with, train, write_cache


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    cache = write_cache(root / "cache")
    # early stopping with restore: the saved weights are not the last epoch's
    spec = spec_with(epochs=8, lr=0.3, optimizer="sgd", early_stopping={"monitor": "val_acc", "patience": 3})
    train(cache, root / "out", spec)
    return cache, root / "out"


def test_reloaded_model_reproduces_the_logged_validation_metrics_exactly(trained):
    cache, out = trained
    model, ckpt = load_model(out / "checkpoint.pt", "cpu")
    assert not model.training
    proba = predict_proba(model, ckpt, np.load(cache / "val_x.npy"), "cpu")
    metrics = proba_metrics(proba, np.load(cache / "val_y.npy"))
    history = pd.read_csv(out / "history.csv").set_index("epoch")
    best = history.loc[ckpt["best_epoch"]]
    assert ckpt["best_epoch"] < ckpt["epoch"]  # restored weights, not the last epoch's
    # exact equality: the same code path, batch size and weights as during training
    assert metrics == ckpt["val_metrics"] == {"loss": best["val_loss"], "accuracy": best["val_acc"]}
    assert proba.dtype == np.float64 and proba.shape == (60, 3)
    assert np.allclose(proba.sum(1), 1.0, atol=1e-12)


def test_verify_data_accepts_the_training_arrays_and_refuses_others(trained, tmp_path):
    cache, out = trained
    ckpt = load_checkpoint(out / "checkpoint.pt")
    normalization = json.loads((cache / "normalization.json").read_text())
    shas = {name: sha256_file(cache / f"{name}.npy") for name in ("train_x", "train_y", "val_x", "val_y")}
    verify_data(ckpt, {**shas, "test_x": "ab" * 32}, normalization)  # arrays it does not record are not refused
    with pytest.raises(CheckpointError, match="trained on val_x.npy with sha256 .* the cache was rebuilt"):
        verify_data(ckpt, {**shas, "val_x": "0" * 64}, normalization)
    with pytest.raises(CheckpointError, match=r"normalization differs .*std: checkpoint"):
        verify_data(ckpt, shas, {**normalization, "std": [0.5, 0.5, 0.5]})
    other = write_cache(tmp_path / "other", seed=5)
    with pytest.raises(CheckpointError, match="train_sha256"):
        verify_data(ckpt, {}, json.loads((other / "normalization.json").read_text()))


def test_predict_proba_checks_the_arrays_shape(trained):
    _, out = trained
    model, ckpt = load_model(out / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="expects uint8 N x 16 x 16 x 3 crops, got uint8 2 x 32 x 32 x 3"):
        predict_proba(model, ckpt, np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(CheckpointError, match="got float64"):
        predict_proba(model, ckpt, np.zeros((2, 16, 16, 3)))
    assert predict_proba(model, ckpt, np.zeros((0, 16, 16, 3), np.uint8)).shape == (0, 3)


def test_predictions_do_not_depend_on_batch_size_beyond_float_noise(trained):
    cache, out = trained
    model, ckpt = load_model(out / "checkpoint.pt")
    x = np.load(cache / "val_x.npy")
    assert np.allclose(predict_proba(model, ckpt, x, batch_size=7), predict_proba(model, ckpt, x), atol=1e-5)


def test_unreadable_or_foreign_files_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a maskflow checkpoint"):
        load_checkpoint(foreign)


def test_weights_that_do_not_fit_the_arch_are_refused(trained, tmp_path):
    _, out = trained
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    ckpt["arch"]["head"] = [99]
    broken = tmp_path / "broken.pt"
    torch.save(ckpt, broken)
    with pytest.raises(CheckpointError, match="weights do not fit the recorded architecture"):
        load_model(broken)


def test_checkpoint_loads_without_executing_code(trained):
    # weights_only loading: the file holds tensors and plain values only
    _, out = trained
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["spec"]["name"] == SPEC["name"]
