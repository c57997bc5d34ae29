"""Interrupted training resumes to bit-identical weights; stale or broken resume states are not used.

The first test is the real thing: `maskflow train` in a subprocess gets SIGTERM after its 2nd
epoch, exits non-zero, and a second run with the same --resume path finishes the job."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from maskflow.training import torch_trainer as train_module

from helpers.training import assert_same_weights, cli_args, history_without_seconds, spec_with, train, write_cache

# Every piece of state a resume must restore: Adam moments, a step schedule, early stopping
# with best weights, the sampler's and the augmenter's generators, dropout/rrelu (torch's).
RESUMABLE = spec_with(
    epochs=10,
    latent_epochs=[1, 5],
    schedule={"type": "step", "every": 3, "factor": 0.5},
    early_stopping={"monitor": "val_loss", "patience": 50},
    augment={"hflip": True, "rotate": 10, "brightness": 0.1},
    imbalance={"method": "weighted_sampler"},
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return write_cache(tmp_path_factory.mktemp("resume") / "cache", n_train=400)


@pytest.fixture(scope="module")
def uninterrupted(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    return train(cache, out, RESUMABLE), out


def history_rows(path) -> int:
    try:
        return len(pd.read_csv(path))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


def test_sigterm_saves_and_the_next_run_ends_with_identical_weights(cache, uninterrupted, tmp_path, caplog):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "maskflow", *cli_args(cache, out, RESUMABLE)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while history_rows(out / "history.csv") < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "stopped by SIGTERM during epoch" in stderr and "run the same command again to continue" in stderr
    state = torch.load(out / "resume.pt", weights_only=True)
    assert 2 <= state["epoch"] < RESUMABLE["train"]["epochs"]

    # Snakemake deletes a failed job's declared outputs; the resume state is not one of them.
    for name in ("checkpoint.pt", "history.csv", "latent.npz"):
        (out / name).unlink(missing_ok=True)
    with caplog.at_level(logging.INFO, logger="maskflow.training.train"):
        resumed = train(cache, out, RESUMABLE)
    assert f"resuming from {out / 'resume.pt'} after epoch {state['epoch']}" in caplog.text

    expected, expected_out = uninterrupted
    assert_same_weights(resumed["model_state"], expected["model_state"])
    assert history_without_seconds(out / "history.csv") == history_without_seconds(expected_out / "history.csv")
    assert resumed["best_epoch"] == expected["best_epoch"] and resumed["val_metrics"] == expected["val_metrics"]
    with np.load(out / "latent.npz") as got, np.load(expected_out / "latent.npz") as want:
        assert np.array_equal(got["features_e1"], want["features_e1"]) and np.array_equal(
            got["features_e5"], want["features_e5"]
        )
    assert not (out / "resume.pt").exists()


class StopAfter(train_module.StopSignals):
    """As if SIGTERM arrived before mini-batch number `batches` + 1."""

    batches = 0

    def check(self):
        StopAfter.batches -= 1
        if StopAfter.batches < 0:
            self.received = signal.SIGTERM
        super().check()


def interrupt(cache, out, spec, batches, monkeypatch):
    monkeypatch.setattr(train_module, "StopSignals", StopAfter)
    StopAfter.batches = batches
    with pytest.raises(SystemExit) as stopped:
        train(cache, out, spec)
    monkeypatch.undo()
    assert stopped.value.code == 143


def test_an_interrupt_in_the_first_epoch_leaves_nothing_to_resume(cache, tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.ERROR, logger="maskflow.training.train"):
        interrupt(cache, tmp_path, RESUMABLE, 3, monkeypatch)
    assert "during epoch 1; no epoch was complete" in caplog.text
    assert not (tmp_path / "resume.pt").exists()


def test_a_changed_config_starts_over_instead_of_resuming(cache, tmp_path, monkeypatch, caplog):
    interrupt(cache, tmp_path / "out", RESUMABLE, 60, monkeypatch)  # 25 batches an epoch: stops in epoch 3
    assert torch.load(tmp_path / "out" / "resume.pt", weights_only=True)["epoch"] == 2
    changed = {**RESUMABLE, "train": {**RESUMABLE["train"], "lr": 0.005, "epochs": 3}}
    with caplog.at_level(logging.INFO, logger="maskflow"):
        result = train(cache, tmp_path / "out", changed)
    # it says which changed: the settings, not the data
    said = [r.getMessage() for r in caplog.records if "starting over" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(
        f"{tmp_path / 'out' / 'resume.pt'} was saved before the model's settings changed (settings fingerprint "
    ), said
    assert "data" not in said[0]
    assert "resuming" not in caplog.text
    fresh = train(cache, tmp_path / "fresh", changed)
    assert_same_weights(result["model_state"], fresh["model_state"])


def test_a_rebuilt_cache_starts_over_instead_of_resuming(tmp_path, monkeypatch, caplog):
    """The same config, but the cache rebuilt under it (other crops, same shapes): the resume state
    belongs to the old data and must not be continued on the new."""
    cache = write_cache(tmp_path / "cache", n_train=400)
    interrupt(cache, tmp_path / "out", RESUMABLE, 60, monkeypatch)  # stops in epoch 3
    assert torch.load(tmp_path / "out" / "resume.pt", weights_only=True)["epoch"] == 2
    write_cache(cache, n_train=400, seed=5)  # rebuilt in place: same files, other crops
    with caplog.at_level(logging.INFO, logger="maskflow"):
        result = train(cache, tmp_path / "out", RESUMABLE)  # the very same config
    said = [r.getMessage() for r in caplog.records if "starting over" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(
        f"{tmp_path / 'out' / 'resume.pt'} was saved before the data (cached arrays, normalization or classes)"
        " changed (data fingerprint "
    ), said
    assert "settings" not in said[0]  # the config is the same: only the data changed
    assert "resuming" not in caplog.text
    fresh = train(cache, tmp_path / "fresh", RESUMABLE)
    assert_same_weights(result["model_state"], fresh["model_state"])
    assert history_without_seconds(tmp_path / "out" / "history.csv") == history_without_seconds(
        tmp_path / "fresh" / "history.csv"
    )


def test_a_broken_resume_state_is_ignored(cache, tmp_path, caplog):
    (tmp_path / "resume.pt").write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="maskflow"):
        train(cache, tmp_path, spec_with(epochs=1, latent_epochs=[]))
    assert "not a readable resume state" in caplog.text and "starting over" in caplog.text
