"""`maskflow stats` on a small hand-made cache: exact counts, ratios and train-only
normalization, chunking that cannot change the numbers, and the three figures as real PNGs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.data import integrity, stats
from maskflow.errors import DataError
from maskflow.io.hashing import sha256_file

from helpers.snakemake import run_snakemake

CLASSES = ["good", "bad", "none"]
SPEC = json.dumps({"classes": CLASSES})


def write_split(cache_dir, split, x, y, boxes=None):
    np.save(cache_dir / f"{split}_x.npy", x)
    np.save(cache_dir / f"{split}_y.npy", np.asarray(y, dtype=np.int64))
    n = len(y)
    boxes = boxes if boxes is not None else [(0, 0, 10 + 5 * i, 12 + 3 * i) for i in range(n)]
    pd.DataFrame(
        {
            "row_id": [f"{split}.csv:{i + 1}" for i in range(n)],
            "photo": [f"images/{i}.jpg" for i in range(n)],
            "xmin": [b[0] for b in boxes],
            "ymin": [b[1] for b in boxes],
            "xmax": [b[2] for b in boxes],
            "ymax": [b[3] for b in boxes],
            "label": [CLASSES[k] for k in y],
            "label_index": list(y),
        }
    ).to_csv(cache_dir / f"{split}_index.csv", index=False)


@pytest.fixture
def cache_dir(tmp_path):
    """train: 4 crops of 2x2 RGB with known values; val: 2 crops, all `good`; test: empty."""
    directory = tmp_path / "cache"
    directory.mkdir()
    train = np.zeros((4, 2, 2, 3), dtype=np.uint8)
    train[..., 0] = [[[0, 255], [0, 255]]] * 4  # red: half 0, half 255 -> mean 0.5, std 0.5
    train[..., 1] = 51  # green constant 0.2: std 0 -> set to 1
    train[:, :, :, 2] = np.arange(4)[:, None, None] * 85  # blue 0, 85, 170, 255 per crop
    write_split(directory, "train", train, [0, 0, 1, 0])
    write_split(directory, "val", np.full((2, 2, 2, 3), 250, dtype=np.uint8), [0, 0])
    write_split(directory, "test", np.zeros((0, 2, 2, 3), dtype=np.uint8), [])
    integrity.write_checksums(directory)  # as the cache stage ends
    return directory


def test_class_counts_list_every_class_in_every_split(cache_dir):
    counts = stats.count_table(cache_dir, CLASSES)
    assert list(counts.columns) == ["split", "label", "count", "ratio"]
    assert counts[["split", "label"]].values.tolist() == [[s, c] for s in ("train", "val", "test") for c in CLASSES]
    assert counts["count"].tolist() == [3, 1, 0, 2, 0, 0, 0, 0, 0]
    assert counts["ratio"].tolist() == [0.75, 0.25, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_normalization_uses_train_only_in_unit_range(cache_dir):
    norm = stats.normalization(cache_dir)
    np.testing.assert_allclose(norm["mean"], [0.5, 0.2, 0.5], atol=1e-12)
    blue = np.array([0, 85, 170, 255]) / 255
    np.testing.assert_allclose(norm["std"], [0.5, 1.0, blue.std()], atol=1e-12)  # constant green -> 1
    assert norm["scale"] == 255 and norm["channels"] == 3 and norm["size"] == 2
    assert norm["computed_on"] == "train" and norm["train_sha256"] == sha256_file(cache_dir / "train_x.npy")


def test_chunking_does_not_change_the_numbers(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (37, 5, 5, 1), dtype=np.uint8)
    write_split(tmp_path, "train", x, [0] * 37)
    whole = stats.normalization(tmp_path)
    monkeypatch.setattr(stats, "CHUNK_VALUES", 50)  # 2 crops per chunk
    chunked = stats.normalization(tmp_path)
    assert whole == chunked
    np.testing.assert_allclose(whole["mean"], [x.mean() / 255], rtol=1e-12)
    np.testing.assert_allclose(whole["std"], [x.std() / 255], rtol=1e-12)


def test_empty_train_and_bad_labels_are_errors(cache_dir):
    write_split(cache_dir, "train", np.zeros((0, 2, 2, 3), dtype=np.uint8), [])
    with pytest.raises(DataError, match="train split is empty"):
        stats.normalization(cache_dir)
    np.save(cache_dir / "val_y.npy", np.array([0, 3]))
    with pytest.raises(DataError, match="val_y.npy: label 3 at position 1 is not an index of the 3 classes"):
        stats.count_table(cache_dir, CLASSES)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maskflow", "stats", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_writes_counts_normalization_and_figures(cache_dir, tmp_path):
    counts, norm = tmp_path / "stats" / "class_counts.csv", tmp_path / "stats" / "normalization.json"
    process = run_cli(
        "--cache-dir", str(cache_dir), "--spec", SPEC, "--counts", str(counts), "--normalization", str(norm)
    )
    assert process.returncode == 0, process.stderr
    assert "train: 4 crops: good 3 (75.0%), bad 1 (25.0%), none 0 (0.0%)" in process.stderr
    assert pd.read_csv(counts)["count"].sum() == 6
    assert json.loads(norm.read_text())["computed_on"] == "train"
    for figure in stats.FIGURES:
        out = tmp_path / "stats" / f"{figure}.png"
        process = run_cli(
            "--cache-dir",
            str(cache_dir),
            "--spec",
            SPEC,
            "--counts",
            str(counts),
            "--figure",
            figure,
            "--out",
            str(out),
        )
        assert process.returncode == 0, process.stderr
        with Image.open(out) as image:
            assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 200
            assert np.asarray(image.convert("L")).std() > 5  # something is drawn on it


def test_figures_of_a_gray_array_data_set(tmp_path):
    """Gray crops and no boxes (an array format): the figures still render."""
    x = np.random.default_rng(1).integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    write_split(tmp_path, "train", x, [0, 1, 2, 0, 1, 2], boxes=[("", "", "", "")] * 6)
    for split in ("val", "test"):
        write_split(tmp_path, split, np.zeros((0, 8, 8, 1), dtype=np.uint8), [])
    stats.count_table(tmp_path, CLASSES).to_csv(tmp_path / "counts.csv", index=False)
    inputs = stats.FigureInputs(tmp_path, CLASSES, tmp_path / "counts.csv")
    for name, render in stats.FIGURES.items():
        figure = render(inputs)
        assert figure.axes, name
        stats.atomic.save_figure(tmp_path / f"{name}.png", figure)
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_cli_figure_without_out_is_a_clear_error(cache_dir, tmp_path):
    process = run_cli(
        "--cache-dir", str(cache_dir), "--spec", SPEC, "--counts", str(tmp_path / "c.csv"), "--figure", "examples"
    )
    assert process.returncode == 2 and "--figure needs --out" in process.stderr and "Traceback" not in process.stderr


def test_data_stage_end_to_end_with_snakemake(tmp_path):
    """The rules' arguments reach these commands: tiny config, data targets only."""
    targets = [f"results/masks/stats/{name}" for name in ("class_counts.csv", "normalization.json")]
    targets += [f"results/masks/stats/{figure}.png" for figure in stats.FIGURES]
    run_snakemake(tmp_path, *targets)
    cache_dir = tmp_path / "results" / "masks" / "cache"
    annotations = pd.read_csv(tmp_path / "results" / "masks" / "data" / "annotations.csv", keep_default_na=False)
    counts = pd.read_csv(tmp_path / targets[0])
    for split in ("train", "val", "test"):
        x = np.load(cache_dir / f"{split}_x.npy")
        assert x.shape[1:] == (16, 16, 3) and len(x) == (annotations["split"] == split).sum()
        assert counts.loc[counts["split"] == split, "count"].sum() == len(x)
    norm = json.loads((tmp_path / targets[1]).read_text())
    assert norm["train_sha256"] == sha256_file(cache_dir / "train_x.npy") and norm["size"] == 16
    for target in targets[2:]:
        with Image.open(tmp_path / target) as image:
            assert image.format == "PNG"
