"""Kill the workflow in the middle of a stage, run it again as a user would: it completes, and
what it makes is identical to an uninterrupted run. Real Snakemake runs in temporary folders.

The data set is generated here: 40 large PNG photos (PNG has no reduced-scale decode, so
caching takes a second or two and can be caught in the middle), 10 boxes each, and a config
shaped like tests/config/tiny.yaml with one CNN trained for 40 short epochs.

- caching killed with SIGKILL (power loss, the OOM killer): Snakemake 9 then names the
  incomplete files and asks for --rerun-incomplete, then refuses the killed run's lock (run
  --unlock); after that the cache is rebuilt byte for byte and no temporary file is left;
- training killed with SIGTERM (a cluster time limit, scancel, `kill`) or SIGKILL: the next run
  resumes from resume.pt and ends with the same weights and history as an uninterrupted run;
- a truncated cache file: the statistics stage refuses it, naming the file and the command that
  rebuilds it; that command rebuilds the cache byte for byte.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from maskflow.data.integrity import CHECKSUMS_NAME, cache_names

from helpers import TINY_CONFIG
from helpers.snakemake import run_snakemake, snakemake_command

CACHE = "results/masks/cache"
MODEL = "results/masks/models/cnn"
CACHE_OUTPUTS = [*cache_names(), CHECKSUMS_NAME]
CACHE_TARGETS = [f"{CACHE}/{name}" for name in CACHE_OUTPUTS]
CHECKPOINT = f"{MODEL}/checkpoint.pt"
PHOTO_SIZE = (2000, 1500)
EPOCHS = 40


def write_photos(src: Path, photos: int = 40, boxes: int = 10) -> Path:
    """A bbox_csv data set (train.csv, test.csv, images/) of smooth PNG photos with random boxes."""
    width, height = PHOTO_SIZE
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(0)
    rows = {"train": [], "test": []}
    (src / "images").mkdir(parents=True)
    for i in range(photos):
        pixels = np.stack([(x + 13 * i) % 256, y * 255 // height, (x // 7 + y // 5 + i) % 256], axis=2)
        name = f"photo {i:03d}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(src / "images" / name, compress_level=1)
        for _ in range(boxes):
            side = int(rng.integers(40, 300))
            x0, y0 = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
            label = rng.choice(["good", "bad", "none"], p=[0.7, 0.2, 0.1])
            rows["test" if i % 5 == 4 else "train"].append([name, width, height, label, x0, y0, x0 + side, y0 + side])
    for split, table in rows.items():
        pd.DataFrame(table, columns=["filename", "width", "height", "label", "xmin", "ymin", "xmax", "ymax"]).to_csv(
            src / f"{split}.csv", index=False
        )
    return src


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """tiny.yaml with the generated photos as a `path` source and one CNN of 40 epochs."""
    folder = tmp_path_factory.mktemp("interruption")
    settings = yaml.safe_load(TINY_CONFIG.read_text())
    dataset = settings["datasets"]["masks"]
    dataset["source"] = {"kind": "path", "path": str(write_photos(folder / "photos"))}
    dataset.pop("baseline", None)
    cnn = {key: value for key, value in settings["models"]["cnn"].items() if key != "seeds"}
    cnn["train"] = {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": EPOCHS}
    settings.update(models={"cnn": cnn}, sweeps={}, ensembles={})
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> Path:
    """An uninterrupted run: the cache and the trained model every interrupted run must match."""
    workdir = tmp_path_factory.mktemp("reference")
    run_snakemake(workdir, CHECKPOINT, config=config)
    return workdir


def start_snakemake(workdir: Path, config: Path, *targets: str) -> subprocess.Popen:
    """Snakemake in its own process group (as a terminal or a batch system starts it)."""
    return subprocess.Popen(
        snakemake_command(workdir, *targets, config=config),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_when(process: subprocess.Popen, ready, sig: signal.Signals, timeout: float = 120) -> str:
    """Send `sig` to the whole process group (Snakemake and its jobs) once `ready()`; the output."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0]
            pytest.fail(f"the moment to interrupt never came (exit {process.returncode}):\n{output[-3000:]}")
        time.sleep(0.005)
    os.killpg(process.pid, sig)
    output = process.communicate(timeout=60)[0]
    with_jobs_gone(process.pid)
    return output


def with_jobs_gone(pgid: int, timeout: float = 30) -> None:
    """Wait until no process of the killed group is left (jobs that outlive Snakemake would keep
    writing into the folder the next run uses)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"processes of group {pgid} outlived the kill")


def rerun_as_a_user(workdir: Path, config: Path, *targets: str) -> list[str]:
    """Run Snakemake again and do what its messages tell a user to, until it completes; returns
    the steps taken (--unlock, --rerun-incomplete)."""
    steps: list[str] = []
    for _ in range(4):
        flags = ["--rerun-incomplete"] if "--rerun-incomplete" in steps else []
        process = run_snakemake(workdir, *flags, *targets, config=config, check=False)
        output = process.stdout + process.stderr
        if process.returncode == 0:
            return steps
        if "LockException" in output and "--unlock" in output:
            run_snakemake(workdir, "--unlock", config=config)
            steps.append("--unlock")
        elif "IncompleteFilesException" in output and "--rerun-incomplete" in output and not flags:
            steps.append("--rerun-incomplete")
        else:
            pytest.fail(f"snakemake failed after {steps}:\n{output[-4000:]}")
    pytest.fail(f"snakemake did not complete after {steps}")


def assert_same_cache(workdir: Path, reference: Path) -> None:
    for name in CACHE_OUTPUTS:
        assert (workdir / CACHE / name).read_bytes() == (reference / CACHE / name).read_bytes(), name
    leftovers = sorted(p.name for p in (workdir / CACHE).iterdir() if p.name not in CACHE_OUTPUTS)
    assert leftovers == [], f"left in the cache folder: {leftovers}"


def copy_without_model(reference: Path, workdir: Path) -> Path:
    """The reference folder (data, cache and Snakemake's records) without the trained model."""
    shutil.copytree(reference, workdir, symlinks=True)
    shutil.rmtree(workdir / MODEL)
    return workdir


def history_rows(path: Path) -> int:
    try:
        return len(pd.read_csv(path))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


def history_without_seconds(workdir: Path) -> pd.DataFrame:
    return pd.read_csv(workdir / MODEL / "history.csv").drop(columns="seconds")


def test_caching_killed_hard_is_rebuilt_byte_for_byte(config, reference, tmp_path):
    cache_dir = tmp_path / CACHE

    def in_the_middle() -> bool:
        # train_x.npy finished and another split's temporary file being filled.
        return (cache_dir / "train_x.npy").exists() and any(cache_dir.glob(".*.tmp-*"))

    kill_when(start_snakemake(tmp_path, config, *CACHE_TARGETS), in_the_middle, signal.SIGKILL)
    assert any(not (tmp_path / target).exists() for target in CACHE_TARGETS), "caching had already finished"
    assert list(cache_dir.glob(".*.tmp-*")), "the kill left no temporary file: it did not hit a write"

    steps = rerun_as_a_user(tmp_path, config, *CACHE_TARGETS)

    # Snakemake 9 first names the complete-looking train files as incomplete (a user adds
    # --rerun-incomplete, as it says), then finds the killed run's lock (a user runs --unlock).
    assert steps == ["--rerun-incomplete", "--unlock"]
    assert_same_cache(tmp_path, reference)
    assert "temporary file(s) left by an interrupted run" in (tmp_path / "results/masks/logs/cache.log").read_text()


@pytest.mark.parametrize(
    "sig, steps",
    [(signal.SIGTERM, []), (signal.SIGKILL, ["--rerun-incomplete", "--unlock"])],
    ids=["SIGTERM", "SIGKILL"],
)
def test_training_killed_resumes_to_the_same_weights(config, reference, tmp_path, sig, steps):
    workdir = copy_without_model(reference, tmp_path / "run")
    history = workdir / MODEL / "history.csv"
    # Two epochs in history.csv (so at least one in resume.pt) out of 40: the middle of training.
    process = start_snakemake(workdir, config, CHECKPOINT)
    output = kill_when(process, lambda: history_rows(history) >= 2, sig)
    assert process.returncode != 0 and not (workdir / MODEL / "latent.npz").exists(), output[-2000:]
    # Training writes the checkpoint, then history.csv, then resume.pt after each epoch: a hard
    # kill may come between the last two, leaving the previous epoch's resume state.
    saved = torch.load(workdir / MODEL / "resume.pt", weights_only=True)["epoch"]
    assert 1 <= saved < EPOCHS

    assert rerun_as_a_user(workdir, config, CHECKPOINT) == steps

    log = (workdir / "results/masks/logs/train/cnn.log").read_text()
    assert f"resuming from {MODEL}/resume.pt after epoch" in log
    got = torch.load(workdir / CHECKPOINT, weights_only=True)
    want = torch.load(reference / CHECKPOINT, weights_only=True)
    assert got["model_state"].keys() == want["model_state"].keys()
    for key, tensor in want["model_state"].items():
        assert torch.equal(got["model_state"][key], tensor), key
    pd.testing.assert_frame_equal(history_without_seconds(workdir), history_without_seconds(reference))
    assert not (workdir / MODEL / "resume.pt").exists()


def test_a_truncated_cache_file_is_refused_then_rebuilt_byte_for_byte(config, reference, tmp_path):
    workdir = copy_without_model(reference, tmp_path / "run")
    val_x = workdir / CACHE / "val_x.npy"
    val_x.write_bytes(val_x.read_bytes()[: val_x.stat().st_size // 2])  # a copy cut short
    target = "results/masks/stats/normalization.json"

    process = run_snakemake(workdir, target, config=config, check=False)

    assert process.returncode != 0
    log = (workdir / "results/masks/logs/class_stats.log").read_text()
    assert f"{CACHE}/val_x.npy: truncated" in log and "snakemake --forcerun cache" in log, log
    assert "Traceback" not in log
    run_snakemake(workdir, "--forcerun", "cache", "--", target, config=config)
    assert_same_cache(workdir, reference)


def test_a_cache_file_swapped_in_with_a_newer_date_is_refused_not_sealed(config, reference, tmp_path):
    """A newer file makes Snakemake rerun the statistics, which check it against the cache's checksums."""
    workdir = copy_without_model(reference, tmp_path / "run")
    val_x = workdir / CACHE / "val_x.npy"
    crops = np.load(val_x)
    np.save(val_x, crops[::-1])  # same shape and dtype, other order: as if from another run
    target = "results/masks/stats/normalization.json"

    process = run_snakemake(workdir, target, config=config, check=False)

    assert process.returncode != 0
    log = (workdir / "results/masks/logs/class_stats.log").read_text()
    assert f"{CACHE}/val_x.npy: sha256" in log and "checksums.json" in log and "snakemake --forcerun cache" in log, log
    assert "Traceback" not in log
    run_snakemake(workdir, "--forcerun", "cache", "--", target, config=config)
    assert_same_cache(workdir, reference)
