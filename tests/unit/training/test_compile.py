"""`train.compile: true` (issue 26): a model trains through torch.compile; the result agrees with
eager training to the README's tolerance, repeats exactly, and checkpoints stay plain modules.

The first compile of the blob CNN takes 30-80 s on two busy cores (inductor builds C++ with the
machine's compiler; later runs reuse inductor's on-disk cache).
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
import torch
import yaml

from maskflow.config import load_and_check
from maskflow.errors import ConfigError
from maskflow.training.compiled import cpp_compiler

from helpers import ROOT, TINY_CONFIG
from helpers.training import spec_with, train, write_cache

# README, "Compiled training": after the test's 3 epochs (dropout and RReLU included), each
# weight tensor within 1e-4 of eager training (relative, in norm), losses within 1e-5 (relative),
# the same accuracies.
WEIGHTS_RTOL = 1e-4
LOSS_RTOL = 1e-5


def needs_a_compiler():
    if cpp_compiler() is None:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("no C++ compiler under CI: scripts/install-system-deps.sh installs g++")
        pytest.skip("no C++ compiler (g++ / clang++) for inductor's CPU backend")


def test_compiled_training_agrees_with_eager_and_repeats_exactly(tmp_path):
    needs_a_compiler()
    cache = write_cache(tmp_path / "cache")
    eager = train(cache, tmp_path / "eager", spec_with(epochs=3), threads=2)
    compiled = train(cache, tmp_path / "compiled", spec_with(epochs=3, compile=True), threads=2)
    again = train(cache, tmp_path / "again", spec_with(epochs=3, compile=True), threads=2)

    a, b, c = eager["model_state"], compiled["model_state"], again["model_state"]
    assert a.keys() == b.keys() and not [key for key in b if "_orig_mod" in key]  # a plain module's checkpoint
    assert all(torch.equal(b[key], c[key]) for key in b)  # compiled twice: the same bits
    for key in a:
        if a[key].is_floating_point():
            difference = (b[key].double() - a[key].double()).norm() / a[key].double().norm().clamp_min(1e-12)
            assert difference <= WEIGHTS_RTOL, (key, float(difference))
    histories = [pd.read_csv(tmp_path / name / "history.csv") for name in ("eager", "compiled")]
    for column in ("train_loss", "val_loss"):
        assert histories[1][column].to_numpy() == pytest.approx(histories[0][column].to_numpy(), rel=LOSS_RTOL)
    for column in ("train_acc", "val_acc"):
        assert histories[1][column].tolist() == histories[0][column].tolist()


def test_without_a_cpp_compiler_compile_stops_with_one_line(tmp_path, monkeypatch):
    cache = write_cache(tmp_path / "cache")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(ConfigError) as error:
        train(cache, tmp_path / "out", spec_with(epochs=1, compile=True))
    assert str(error.value).startswith("models.blobs.train.compile: torch.compile on the CPU needs a C++ compiler")
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_compile_is_a_boolean_of_a_models_train_settings():
    config = yaml.safe_load(TINY_CONFIG.read_text())
    model = next(iter(config["models"]))
    config["models"][model].setdefault("train", {})["compile"] = "yes"
    with pytest.raises(ConfigError) as error:
        load_and_check(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    assert f"models.{model}.train.compile: 'yes' is not of type 'boolean'" in str(error.value)
