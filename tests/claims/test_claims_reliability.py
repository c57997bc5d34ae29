"""README "Reliability" claims run through the commands users run (issue 14, items 7 and 8).

- "same-shape file from another run, copied keeping its old date (`rsync -a`, `cp -p`): refused
  by stats, train and evaluate": each of the three commands is run on such a cache and must exit
  2 naming the file, the seal it broke and `snakemake --forcerun cache`;
- "a flipped byte in the weights": checkpoints that `maskflow train` really writes carry
  `weights_sha256` and `complete`; one byte flipped inside a tensor of such a checkpoint makes
  `maskflow evaluate` exit 2, and so does a checkpoint that records no `weights_sha256` (its
  weights could not be checked at all);
- "wrong bytes: exit 2 naming the URL and both sha256; nothing kept", through `maskflow fetch`
  (issue 14, item 13) with a url source served by tests/helpers/httpserver.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from maskflow.io import hashing

from helpers.cli import assert_clear_error, cli
from helpers.evaluation import CLASSES, write_cache
from helpers.httpserver import HTTPTestServer
from helpers.training import SPEC


def stats(cache_dir: Path, out: Path, capsys) -> tuple[int, str]:
    return cli(
        "stats",
        "--cache-dir",
        cache_dir,
        "--spec",
        json.dumps({"classes": CLASSES}),
        "--counts",
        out / "counts.csv",
        "--normalization",
        out / "normalization.json",
        capsys=capsys,
    )


def train(cache_dir: Path, normalization: Path, model_dir: Path, capsys, epochs: int = 2) -> tuple[int, str]:
    spec = {**SPEC, "name": "model_a", "train": {**SPEC["train"], "epochs": epochs, "latent_epochs": []}}
    return cli(
        "train",
        "--spec",
        json.dumps(spec),
        "--cache-dir",
        cache_dir,
        "--normalization",
        normalization,
        "--checkpoint",
        model_dir / "checkpoint.pt",
        "--history",
        model_dir / "history.csv",
        "--latent",
        model_dir / "latent.npz",
        "--resume",
        model_dir / "resume.pt",
        "--architecture",
        model_dir / "architecture.txt",
        "--classes",
        json.dumps(CLASSES),
        capsys=capsys,
    )


def evaluate(cache_dir: Path, normalization: Path, model_dir: Path, capsys) -> tuple[int, str]:
    return cli(
        "evaluate",
        "--checkpoint",
        model_dir / "checkpoint.pt",
        "--cache-dir",
        cache_dir,
        "--normalization",
        normalization,
        "--model",
        "model_a",
        "--out-dir",
        model_dir,
        "--metrics",
        model_dir / "metrics.json",
        capsys=capsys,
    )


@pytest.fixture
def sealed(tmp_path, capsys):
    """A cache sealed by `maskflow stats` and a model `maskflow train` trained on it (epochs 2 of 2)."""
    cache_dir = write_cache(tmp_path / "cache")
    assert stats(cache_dir, tmp_path, capsys)[0] == 0
    normalization = tmp_path / "normalization.json"
    model_dir = tmp_path / "models" / "model_a"
    status, err = train(cache_dir, normalization, model_dir, capsys)
    assert status == 0, err
    assert evaluate(cache_dir, normalization, model_dir, capsys)[0] == 0
    return cache_dir, normalization, model_dir


# ======================================================================== a cache file swapped in, old date


def swap_in_keeping_the_date(cache_dir: Path, name: str, tmp_path: Path) -> None:
    other = write_cache(tmp_path / "other" / "cache", seed=7)  # the same layout from another run
    shutil.copy2(other / name, cache_dir / name)  # cp -p: its old modification time comes along


@pytest.mark.parametrize("name", ["train_x.npy", "val_x.npy", "test_x.npy"])
def test_a_file_swapped_in_with_its_old_date_is_refused_by_stats_train_and_evaluate(sealed, tmp_path, capsys, name):
    """Crops of the same shape from another run: labels and index still agree, only a checksum can tell."""
    cache_dir, normalization, model_dir = sealed
    swap_in_keeping_the_date(cache_dir, name, tmp_path)
    file = f"{cache_dir / name}: sha256"
    again = tmp_path / "again"
    again.mkdir()

    status, err = stats(cache_dir, again, capsys)
    assert_clear_error(status, err, file, f"recorded in {cache_dir / 'checksums.json'}", "snakemake --forcerun cache")
    assert not (again / "normalization.json").exists()

    if name != "test_x.npy":  # training reads train and val only
        status, err = train(cache_dir, normalization, tmp_path / "models" / "retrained", capsys)
        assert_clear_error(status, err, file, f"recorded in {normalization}", "snakemake --forcerun cache")
        assert not (tmp_path / "models" / "retrained" / "checkpoint.pt").exists()

    (model_dir / "metrics.json").unlink()
    status, err = evaluate(cache_dir, normalization, model_dir, capsys)
    if name == "test_x.npy":
        assert_clear_error(status, err, file, f"recorded in {normalization}", "snakemake --forcerun cache")
    else:  # the checkpoint's own record of its training data speaks first
        assert_clear_error(status, err, f"trained on {name} with sha256", "retrain the model")
    assert not (model_dir / "metrics.json").exists()


# ======================================================================== real checkpoints


def test_a_trained_checkpoint_records_its_weights_hash_and_that_it_is_complete(sealed):
    _, _, model_dir = sealed
    checkpoint = torch.load(model_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["complete"] is True
    assert checkpoint["weights_sha256"] == hashing.state_sha256(checkpoint["model_state"])


def flip_a_byte_in_the_largest_tensor(path: Path) -> None:
    """Flip one byte in the middle of the largest tensor's stored data, leaving the file loadable."""
    state = torch.load(path, weights_only=True)["model_state"]
    tensor = max(state.values(), key=lambda t: t.numel())
    data, stored = bytearray(path.read_bytes()), tensor.numpy().tobytes()
    assert data.count(stored) == 1
    at = data.index(stored) + len(stored) // 2
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    reloaded = torch.load(path, weights_only=True)  # torch itself does not notice
    assert not all(torch.equal(state[k], reloaded["model_state"][k]) for k in state)


def test_a_flipped_byte_in_a_trained_checkpoint_is_refused_by_evaluate(sealed, capsys):
    cache_dir, normalization, model_dir = sealed
    flip_a_byte_in_the_largest_tensor(model_dir / "checkpoint.pt")
    status, err = evaluate(cache_dir, normalization, model_dir, capsys)
    assert_clear_error(status, err, f"{model_dir / 'checkpoint.pt'}: weights have sha256", "the file is damaged")


def test_a_checkpoint_without_a_weights_hash_is_refused_by_evaluate(sealed, capsys):
    cache_dir, normalization, model_dir = sealed
    path = model_dir / "checkpoint.pt"
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["weights_sha256"]
    torch.save(checkpoint, path)
    status, err = evaluate(cache_dir, normalization, model_dir, capsys)
    assert_clear_error(status, err, f"{path}: records no weights_sha256", "snakemake --forcerun")


# ======================================================================== downloads, through the command


def test_wrong_bytes_from_a_url_source_make_maskflow_fetch_exit_2_keeping_nothing(tmp_path, capsys):
    """README: "wrong bytes: exit 2 naming the URL and both sha256; nothing kept" as `maskflow fetch` does it."""
    body = b"filename,label\na.jpg,good\n"
    wrong = "0" * 64
    resources = tmp_path / "resources" / "d"
    with HTTPTestServer() as server:
        url = server.add("/masks.csv", body)
        spec = json.dumps({"source": {"kind": "url", "url": url, "sha256": wrong, "retries": 1}})
        status, err = cli(
            "fetch", "--dataset", "d", "--spec", spec, "--raw-dir", resources / "raw", "--manifest",
            resources / "manifest.json", capsys=capsys,
        )  # fmt: skip
    assert_clear_error(status, err, url, wrong, hashlib.sha256(body).hexdigest())
    assert err.strip().splitlines()[-1].startswith("maskflow fetch: error:")
    assert not resources.exists() or list(resources.iterdir()) == []  # no raw folder, manifest or scratch
