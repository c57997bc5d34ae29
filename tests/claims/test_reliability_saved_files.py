"""Broken cache files and checkpoints (issue 8's corpus, README "Reliability"): `maskflow stats` and
`maskflow evaluate` refuse each with exit 2 and one message naming the file, the problem and how
to rebuild; the integrity check refuses what evaluate refuses and accepts every good checkpoint.
docs/reproducibility.md lists the cases and outcomes.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from maskflow.data import integrity
from maskflow.errors import CheckpointError, DataError
from maskflow.io import hashing
from maskflow.models.checkpoint import check_checkpoint

from helpers.bad_inputs import CLASSES
from helpers.cli import assert_clear_error, cli, evaluate_args, stats_args
from helpers.evaluation import write_cache, write_checkpoint

# ======================================================================== cache files


@pytest.fixture
def sealed_cache(tmp_path, capsys):
    """A cache (tests/unit/evaluation/test_evaluate.py's) and its normalization.json written by `maskflow stats`."""
    cache_dir = write_cache(tmp_path / "cache")
    status, err = cli(
        *stats_args(str(cache_dir), CLASSES, str(tmp_path / "counts.csv"), str(tmp_path / "normalization.json")),
        capsys=capsys,
    )
    assert status == 0, err
    return cache_dir


def other_run(tmp_path: Path) -> Path:
    """The same layout from another seed: as if copied in from another run."""
    return write_cache(tmp_path / "other" / "cache", seed=7)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 100])


# case -> (breakage(cache_dir, tmp_path), file named, fragment of the problem)
CACHE_BREAKAGES = {
    "truncated x": (
        lambda c, t: truncate(c / "val_x.npy"),
        "val_x.npy",
        "truncated: the header describes uint8 12 x 12 x 12 x 3",
    ),
    "truncated header": (
        lambda c, t: (c / "val_y.npy").write_bytes(b"\x93NUMPY\x01"),
        "val_y.npy",
        "not a readable .npy",
    ),
    "empty index": (lambda c, t: (c / "test_index.csv").write_bytes(b""), "test_index.csv", "empty file"),
    "index line cut short": (
        lambda c, t: (c / "val_index.csv").write_text(
            "\n".join(
                line if n != 3 else line.rsplit(",", 2)[0]
                for n, line in enumerate((c / "val_index.csv").read_text().splitlines())
            )
            + "\n"
        ),
        "val_index.csv",
        "line 4 does not have the header's",
    ),
    "label_index not a whole number": (
        lambda c, t: (c / "test_index.csv").write_text(
            (c / "test_index.csv").read_text().replace("\n", "\r", 1).replace(",0\n", ",²\n", 1).replace("\r", "\n", 1)
        ),
        "test_index.csv",
        "(label_index ²) but test_y.npy has label 0",
    ),
    "index not UTF-8": (
        lambda c, t: (c / "val_index.csv").write_bytes((c / "val_index.csv").read_bytes() + b"\xff\xfe,\n"),
        "val_index.csv",
        "cannot read the cache index",
    ),
    "y from another run": (
        lambda c, t: shutil.copy(other_run(t) / "val_y.npy", c / "val_y.npy"),
        "val_index.csv",
        "line 4 (row_id val.csv:3) says 'good' (label_index 0) but val_y.npy has label 1 at position 2: "
        "the two files come from different runs",
    ),
    "index from another run": (
        lambda c, t: shutil.copy(other_run(t) / "test_index.csv", c / "test_index.csv"),
        "test_index.csv",
        "line 2 (row_id test.csv:1) says 'good' (label_index 0) but test_y.npy has label 1 at position 0: "
        "the two files come from different runs",
    ),
    "labels and x of different lengths": (
        lambda c, t: np.save(c / "test_y.npy", np.zeros(3, np.int64)),
        "test_y.npy",
        "3 labels but test_x.npy holds 15 crops",
    ),
    "labels saved as crops": (
        lambda c, t: shutil.copy(c / "train_y.npy", c / "train_x.npy"),
        "train_x.npy",
        "expected uint8 N x H x W x C crops",
    ),
}


@pytest.mark.parametrize("case", list(CACHE_BREAKAGES))
def test_a_broken_cache_is_refused_naming_the_file_and_how_to_rebuild(sealed_cache, tmp_path, capsys, case):
    breakage, name, problem = CACHE_BREAKAGES[case]
    breakage(sealed_cache, tmp_path)
    status, err = cli(
        *stats_args(str(sealed_cache), CLASSES, str(tmp_path / "c2.csv"), str(tmp_path / "n2.json")), capsys=capsys
    )
    assert_clear_error(status, err, name, problem, "snakemake --forcerun cache")
    assert not (tmp_path / "n2.json").exists()


def test_a_cache_file_swapped_in_from_another_run_breaks_the_seal(sealed_cache, tmp_path):
    seal = integrity.read_seal(tmp_path / "normalization.json")
    assert set(seal.checksums) == set(integrity.cache_names())
    for split in ("train", "val", "test"):
        integrity.load_split(sealed_cache, split, classes=CLASSES, seal=seal)
    other = other_run(tmp_path)
    shutil.copy2(other / "test_x.npy", sealed_cache / "test_x.npy")  # same shape, old mtime: Snakemake sees nothing
    with pytest.raises(DataError, match=r"test_x.npy: sha256 .* differs from .* recorded in .*normalization.json"):
        integrity.load_split(sealed_cache, "test", classes=CLASSES, seal=seal)


def test_a_cache_file_swapped_in_with_a_newer_date_is_refused_not_sealed(sealed_cache, tmp_path, capsys):
    """A newer file makes Snakemake rerun the statistics: they must refuse it, not seal it."""
    shutil.copy(other_run(tmp_path) / "val_x.npy", sealed_cache / "val_x.npy")  # plain copy: a new mtime
    status, err = cli(
        *stats_args(str(sealed_cache), CLASSES, str(tmp_path / "c2.csv"), str(tmp_path / "n2.json")), capsys=capsys
    )
    assert_clear_error(status, err, "val_x.npy", "recorded in", "checksums.json", "snakemake --forcerun cache")
    assert not (tmp_path / "n2.json").exists()


def test_a_cache_without_its_checksums_is_refused(sealed_cache, tmp_path, capsys):
    (sealed_cache / "checksums.json").unlink()
    status, err = cli(
        *stats_args(str(sealed_cache), CLASSES, str(tmp_path / "c2.csv"), str(tmp_path / "n2.json")), capsys=capsys
    )
    assert_clear_error(status, err, "checksums.json", "not found", "snakemake --forcerun cache")


# ======================================================================== checkpoints


@pytest.fixture
def checkpoint_setup(sealed_cache, tmp_path):
    """A checkpoint (tests/unit/evaluation/test_evaluate.py's, epochs 2 of 2) of model `model_a` on the sealed cache."""
    model_dir = tmp_path / "models" / "model_a"
    write_checkpoint(model_dir / "checkpoint.pt", sealed_cache)
    return sealed_cache, model_dir


def evaluate(cache_dir: Path, model_dir: Path, capsys, *extra: str) -> tuple[int, str]:
    return cli(*evaluate_args(model_dir, cache_dir), *extra, capsys=capsys)


def resave(path: Path, **changes) -> dict:
    checkpoint = torch.load(path, weights_only=True)
    checkpoint.update(changes)
    torch.save(checkpoint, path)
    return checkpoint


def flip_a_weight_byte(path: Path) -> None:
    """Record the weights' sha256, then flip one byte inside the largest tensor's stored data."""
    checkpoint = resave(path)
    resave(path, weights_sha256=hashing.state_sha256(checkpoint["model_state"]))
    tensor = max(checkpoint["model_state"].values(), key=lambda t: t.numel())
    data, stored = bytearray(path.read_bytes()), tensor.numpy().tobytes()
    at = data.index(stored) + len(stored) // 2
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


# Each breakage takes (cache folder, model folder) and returns the model folder to evaluate.


def truncated(cache_dir: Path, model_dir: Path) -> Path:
    truncate(model_dir / "checkpoint.pt")
    return model_dir


def not_a_checkpoint(cache_dir: Path, model_dir: Path) -> Path:
    (model_dir / "checkpoint.pt").write_text("{}")
    return model_dir


def trained_on_other_data(cache_dir: Path, model_dir: Path) -> Path:
    write_checkpoint(model_dir / "checkpoint.pt", other_run(cache_dir.parent))
    return model_dir


def unfinished(cache_dir: Path, model_dir: Path) -> Path:
    resave(model_dir / "checkpoint.pt", epoch=1)  # of 2, no early stopping
    return model_dir


def copied_to_another_model(cache_dir: Path, model_dir: Path) -> Path:
    shutil.copytree(model_dir, model_dir.parent / "model_b")
    return model_dir.parent / "model_b"


def damaged_weights(cache_dir: Path, model_dir: Path) -> Path:
    flip_a_weight_byte(model_dir / "checkpoint.pt")
    return model_dir


def swapped_test_split(cache_dir: Path, model_dir: Path) -> Path:
    shutil.copy2(other_run(cache_dir.parent) / "test_x.npy", cache_dir / "test_x.npy")
    return model_dir


# case -> (breakage, fragments of the error ({checkpoint}: the checkpoint's path), marks, extra
# arguments: `--model` is what the evaluate rule passes)
CHECKPOINT_BREAKAGES = {
    "truncated": (truncated, ["{checkpoint}: not a readable checkpoint"], [], []),
    "not a checkpoint": (not_a_checkpoint, ["{checkpoint}: not a readable checkpoint"], [], []),
    "trained on another run's data": (
        trained_on_other_data,
        ["{checkpoint}: trained on train_x.npy with sha256", "retrain the model"],
        [],
        [],
    ),
    "training did not finish": (unfinished, ["{checkpoint}: saved after epoch 1 of 2", "snakemake --forcerun"], [], []),
    "another model's checkpoint": (
        copied_to_another_model,
        ["{checkpoint}: holds the weights of model 'model_a', not 'model_b'"],
        [],
        ["--model", "model_b"],
    ),
    "damaged weights": (damaged_weights, ["{checkpoint}: weights have sha256", "damaged"], [], []),
    "test split swapped in from another run": (
        swapped_test_split,
        ["test_x.npy: sha256", "snakemake --forcerun cache"],
        [],
        [],
    ),
}


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=marks) for case, (_, _, marks, _) in CHECKPOINT_BREAKAGES.items()]
)
def test_a_bad_checkpoint_is_refused_by_evaluate(checkpoint_setup, capsys, case):
    cache_dir, model_dir = checkpoint_setup
    assert evaluate(cache_dir, model_dir, capsys)[0] == 0  # the intact one is accepted
    breakage, fragments, _, extra = CHECKPOINT_BREAKAGES[case]
    model_dir = breakage(cache_dir, model_dir)
    status, err = evaluate(cache_dir, model_dir, capsys, *extra)
    assert_clear_error(status, err, *(f.format(checkpoint=model_dir / "checkpoint.pt") for f in fragments))


@pytest.mark.parametrize("case", ["training did not finish", "another model's checkpoint", "damaged weights"])
def test_integrity_refuses_what_evaluate_should(checkpoint_setup, case):
    """What evaluate will do once it calls maskflow.models.checkpoint.check_checkpoint."""
    from maskflow.models.checkpoint import load_checkpoint

    _, model_dir = checkpoint_setup
    check_checkpoint(load_checkpoint(model_dir / "checkpoint.pt"), model="model_a")
    breakage, fragments, _, _ = CHECKPOINT_BREAKAGES[case]
    model_dir = breakage(model_dir.parent.parent / "cache", model_dir)
    checkpoint = load_checkpoint(model_dir / "checkpoint.pt")
    with pytest.raises(CheckpointError) as error:
        check_checkpoint(checkpoint, model=model_dir.name)
    for fragment in fragments:
        assert fragment.format(checkpoint=model_dir / "checkpoint.pt") in str(error.value)


def test_a_finished_early_stopped_or_complete_checkpoint_is_accepted(checkpoint_setup):
    from maskflow.models.checkpoint import load_checkpoint

    _, model_dir = checkpoint_setup
    path = model_dir / "checkpoint.pt"
    spec = copy.deepcopy(torch.load(path, weights_only=True)["spec"])
    spec["train"]["early_stopping"] = {"monitor": "val_loss", "patience": 1}
    for changes in ({"epoch": 1, "spec": spec}, {"epoch": 1, "complete": True}):
        resave(path, **changes)
        check_checkpoint(load_checkpoint(path), model="model_a")
    resave(path, complete=False)
    with pytest.raises(CheckpointError, match="has not finished"):
        check_checkpoint(load_checkpoint(path))
