"""A full disk (issue 27, point 5): the cache, a training run (in the middle: its per-epoch
checkpoint and resume writes), evaluate and the report, each run with too little space on a
real small tmpfs (tests/helpers/disk.py; root only, else skipped saying so).

For each: the job fails with one line naming the file and "no space left on device"; no output
looks finished; nothing earlier is damaged; and once the space is back the same command
completes with results identical to a run that never ran out. Real Snakemake runs on a
tiny-config study of one CNN; the stage's output folder is the tmpfs, filled with a filler file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from maskflow.data.integrity import CHECKSUMS_NAME, cache_names

from helpers import TINY_CONFIG
from helpers.disk import fill, small_disk
from helpers.snakemake import run_snakemake, snakemake_command

pytestmark = pytest.mark.workflow

CACHE = "results/masks/cache"
MODEL = "results/masks/models/cnn"
CACHE_TARGETS = [f"{CACHE}/{name}" for name in (*cache_names(), CHECKSUMS_NAME)]
TRAIN_TARGETS = [f"{MODEL}/{name}" for name in ("checkpoint.pt", "history.csv", "latent.npz", "architecture.txt")]
EVALUATE_TARGETS = [f"{MODEL}/metrics.json"]
FULL = "no space left on device"
EPOCHS = 30  # long enough (seconds) for the test to fill the disk between two epochs


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """tiny.yaml with one CNN of a few epochs: no replicates, sweeps or ensembles."""
    settings = yaml.safe_load(TINY_CONFIG.read_text())
    settings["datasets"]["masks"].pop("baseline", None)
    cnn = {key: value for key, value in settings["models"]["cnn"].items() if key != "seeds"}
    cnn["train"] = {**cnn["train"], "epochs": EPOCHS, "latent_epochs": [1]}
    settings.update(models={"cnn": cnn}, sweeps={}, ensembles={})
    path = tmp_path_factory.mktemp("diskfull") / "config.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> Path:
    """The whole study, run once with space to spare."""
    workdir = tmp_path_factory.mktemp("reference")
    run_snakemake(workdir, "all", config=config)
    return workdir


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def copy_run(reference: Path, workdir: Path, without: str) -> Path:
    """The reference run's folder (dates kept, so Snakemake sees it up to date) minus `without`."""
    shutil.copytree(reference, workdir, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    shutil.rmtree(workdir / without)
    (workdir / without).mkdir()
    return workdir


def full_line(text: str) -> str:
    """The one line that says the disk is full; fails when there is none or several."""
    lines = [line for line in text.splitlines() if FULL in line.lower()]
    assert len(lines) == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    return lines[0]


def run_out_of_space(workdir: Path, config: Path, log: str, *targets: str) -> str:
    """Run `targets` (Snakemake must fail), return the job log's disk-full line."""
    process = run_snakemake(workdir, *targets, config=config, check=False)
    assert process.returncode != 0, process.stderr[-3000:]
    return full_line((workdir / log).read_text())


def stage_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} - {"filler"}


def test_the_cache_on_a_full_disk(config, reference, tmp_path):
    workdir = copy_run(reference, tmp_path / "run", CACHE)
    earlier = digest(workdir / "results/masks/data")
    with small_disk(workdir / CACHE, "8m") as disk:
        filler = fill(disk, leave=16 * 1024)
        line = run_out_of_space(workdir, config, "results/masks/logs/cache.log", *CACHE_TARGETS)
        assert line.startswith("maskflow cache: error: results/masks/cache/") and line.endswith(
            f"{FULL}; it was left as it was; free some space and run the same command again"
        ), line
        assert stage_files(disk) == set(), stage_files(disk)  # no output, no temporary file
        assert digest(workdir / "results/masks/data") == earlier
        filler.unlink()
        run_snakemake(workdir, *CACHE_TARGETS, config=config)
        assert digest(disk) == digest(reference / CACHE)


def test_training_runs_out_of_space_between_epochs_then_resumes(config, reference, tmp_path):
    workdir = copy_run(reference, tmp_path / "run", MODEL)
    cache = digest(workdir / CACHE)
    done = reference / MODEL
    log = "results/masks/logs/train/cnn.log"
    with small_disk(workdir / MODEL, "16m") as disk:
        # The disk fills up as soon as the first epoch's resume state is written: the next epoch's
        # checkpoint, history or resume write runs out of space.
        env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
        command = snakemake_command(workdir, *TRAIN_TARGETS, config=config)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 600
        while not (disk / "resume.pt").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        filler = fill(disk, leave=0)
        output, _ = process.communicate(timeout=600)
        assert process.returncode != 0, output[-3000:]
        text = (workdir / log).read_text()
        line = full_line(text)
        assert line.startswith(f"maskflow train: error: {MODEL}/") and FULL in line, line
        assert "epoch 1/" in text and f"epoch {EPOCHS}/" not in text, text[-3000:]  # it stopped in the middle
        # Snakemake removed the declared outputs of the failed job; the resume state stays
        assert stage_files(disk) == {"resume.pt"}, stage_files(disk)
        assert digest(workdir / CACHE) == cache
        filler.unlink()
        run_snakemake(workdir, *TRAIN_TARGETS, config=config)
        assert "resuming from" in (workdir / log).read_text()
        assert stage_files(disk) == {name.split("/")[-1] for name in TRAIN_TARGETS}
        ours, theirs = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (disk, done))
        for key, tensor in theirs["model_state"].items():
            assert torch.equal(ours["model_state"][key], tensor), key
        without_seconds = [c for c in pd.read_csv(done / "history.csv").columns if c != "seconds"]
        pd.testing.assert_frame_equal(
            pd.read_csv(disk / "history.csv")[without_seconds], pd.read_csv(done / "history.csv")[without_seconds]
        )


def test_evaluate_on_a_full_disk(config, reference, tmp_path):
    workdir = copy_run(reference, tmp_path / "run", MODEL)
    trained = [name.split("/")[-1] for name in TRAIN_TARGETS]
    with small_disk(workdir / MODEL, "8m") as disk:
        for name in trained:
            shutil.copy2(reference / MODEL / name, disk / name)
        before = digest(disk)
        filler = fill(disk, leave=4 * 1024)
        line = run_out_of_space(workdir, config, "results/masks/logs/evaluate/cnn.log", *EVALUATE_TARGETS)
        assert line.startswith(f"maskflow evaluate: error: {MODEL}/") and FULL in line, line
        assert stage_files(disk) == set(trained), stage_files(disk)  # nothing of evaluate's
        assert {k: v for k, v in digest(disk).items() if k != "filler"} == before  # the trained model intact
        filler.unlink()
        run_snakemake(workdir, *EVALUATE_TARGETS, config=config)
        made = {name: value for name, value in digest(disk).items() if name not in before}
        assert made and made == {name: value for name, value in digest(reference / MODEL).items() if name in made}


def test_the_report_on_a_full_disk(reference, tmp_path):
    # The report rule's command, its output on the small disk (results/ holds the job logs too,
    # so it cannot be the tmpfs itself); run where the reference run ran, as the rule runs it.
    def report(out: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "maskflow", "report", "--plan", "results/report_plan.json", "--out", str(out)]
        return subprocess.run(command, cwd=reference, capture_output=True, text=True, timeout=300)

    plan = reference / "results" / "report_plan.json"
    assert plan.exists(), sorted(p.name for p in (reference / "results").iterdir())
    results = digest(reference / "results")
    assert report(tmp_path / "untroubled.html").returncode == 0
    with small_disk(tmp_path / "disk", "8m") as disk:
        filler = fill(disk, leave=64 * 1024)
        failed = report(disk / "report.html")
        assert failed.returncode == 2
        line = full_line(failed.stderr)
        assert line == (
            f"maskflow report: error: {disk / 'report.html'}: {FULL}; "
            "it was left as it was; free some space and run the same command again"
        )
        assert stage_files(disk) == set()
        assert digest(reference / "results") == results  # what it read is unchanged
        filler.unlink()
        assert report(disk / "report.html").returncode == 0
        assert (disk / "report.html").read_bytes() == (tmp_path / "untroubled.html").read_bytes()
