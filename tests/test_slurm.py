"""profiles/slurm on a real SLURM: a one-node cluster on this machine (scripts/slurm/cluster.sh).

The module starts the cluster (installing slurm-wlm and munge if needed), and stops it at the
end if it started it. It is skipped, saying why, only where SLURM cannot be started here (not
root, no apt-get). The cluster has no accounting (no slurmdbd), so every run below also shows
that the profile's squeue status checks finish where the plugin's default sacct would wait
forever.

The profile is used as a user would after fitting it to this cluster (`site_profile`): the
partition is `debug`, the GPU request is dropped (no GPUs), memory is smaller; the status
command, retries, attempt-scaled resources and latency wait are the real profile's.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, TINY_CONFIG

pytestmark = pytest.mark.slurm

CLUSTER = ROOT / "scripts" / "slurm" / "cluster.sh"
PARTITION = "debug"
# A bound on each Snakemake run, so that a status check that never sees its jobs finish (the
# sacct-without-accounting hang) fails the test instead of hanging it.
RUN_TIMEOUT = 540


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("SLURM cannot be started here: not root (slurmctld and slurmd run as root)")
    started = subprocess.run(["bash", str(CLUSTER), "start"], capture_output=True, text=True, timeout=900)
    if started.returncode == 3:
        pytest.skip(f"SLURM cannot be started here: {started.stderr.strip()}")
    assert started.returncode == 0, f"cluster.sh start failed:\n{started.stdout}\n{started.stderr}"
    yield
    # Stop only what this module started; a cluster someone else runs stays up.
    if started.stdout.strip() == "started":
        subprocess.run(["bash", str(CLUSTER), "stop"], capture_output=True, text=True, timeout=120)


def site_profile(folder: Path) -> Path:
    """profiles/slurm with the edits its comments ask for, for this one-node, GPU-less cluster."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "profile.yaml").read_text())
    defaults, train = profile["default-resources"], profile["set-resources"]["train"]
    defaults["slurm_partition"] = train["slurm_partition"] = PARTITION
    # No GPUs here: no gres, hence no CPUs per GPU; one thread, so two train jobs fit 2 CPUs.
    del train["gres"], train["cpus_per_gpu"]
    profile["set-threads"]["train"] = 1
    # Still growing with the attempt, but small enough for any test machine.
    assert "attempt" in defaults["mem_mb"] and "attempt" in train["mem_mb"]
    defaults["mem_mb"], train["mem_mb"] = "500 * attempt", "1000 * attempt"
    # First status check after 2 s instead of 40 (MinJobAge 600 >= 3 x 2: squeue stays in use).
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["slurm-keep-successful-logs"] = True
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def snakemake_command(workdir: Path, profile: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--directory", str(workdir), "--profile", str(profile), *args]


def finished(process: subprocess.CompletedProcess | subprocess.Popen, stdout: str, stderr: str) -> None:
    assert process.returncode == 0, f"snakemake failed ({process.returncode}):\n{stdout[-3000:]}\n{stderr[-8000:]}"


def run_id(snakemake_log: str) -> str:
    """The plugin names every SLURM job of a run after the run's id."""
    match = re.search(r"SLURM run ID: (\S+)", snakemake_log)
    assert match, "no SLURM run ID in Snakemake's output: the slurm executor was not used"
    return match.group(1)


def slurm_jobs(name: str) -> list[dict]:
    """SLURM's own record of the jobs named `name`: id, comment (rule and wildcards), state.

    Finished jobs stay listed for MinJobAge (600 s) after they end."""
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", name, "--format=%i|%k|%T"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return [dict(zip(("id", "comment", "state"), line.split("|"))) for line in listing.splitlines() if line]


def states_of(jobs: list[dict], comment: str) -> list[str]:
    return [job["state"] for job in sorted(jobs, key=lambda j: int(j["id"])) if job["comment"] == comment]


def test_jobs_go_through_sbatch_and_a_failed_one_is_retried_with_more_memory(tmp_path, slurm_cluster):
    (tmp_path / "Snakefile").write_text(
        textwrap.dedent(
            """
            rule all:
                input: expand("out/{i}.txt", i=range(2))

            # Fails unless given at least 1000 MB: the profile's mem_mb grows with the attempt.
            rule work:
                output: "out/{i}.txt"
                shell: "test {resources.mem_mb} -ge 1000 || exit 1; echo $SLURM_JOB_ID {resources.mem_mb} {resources.runtime} > {output}"
            """
        )
    )
    profile = site_profile(tmp_path / "profile")
    done = subprocess.run(
        snakemake_command(tmp_path, profile, "--snakefile", str(tmp_path / "Snakefile")),
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    finished(done, done.stdout, done.stderr)
    jobs = slurm_jobs(run_id(done.stderr))
    for i in range(2):
        job_id, mem_mb, runtime = (tmp_path / "out" / f"{i}.txt").read_text().split()
        # Second attempt: 2 x 500 MB and 2 x 30 minutes, inside a SLURM job.
        assert (mem_mb, runtime) == ("1000", "60")
        assert states_of(jobs, f"rule_work_wildcards_{i}") == ["FAILED", "COMPLETED"]
        assert {"id": job_id, "comment": f"rule_work_wildcards_{i}", "state": "COMPLETED"} in jobs


def history_rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


def cancel_when_training(process: subprocess.Popen, stderr_path: Path, history: Path, comment: str) -> str:
    """scancel the SLURM job of `comment` once its training has saved two epochs; its id."""
    while process.poll() is None:
        if len(history_rows(history)) >= 2:
            name = run_id(stderr_path.read_text())
            running = [job for job in slurm_jobs(name) if job["comment"] == comment and job["state"] == "RUNNING"]
            if running:
                subprocess.run(["scancel", running[0]["id"]], check=True, timeout=60)
                return running[0]["id"]
        time.sleep(0.1)
    raise AssertionError(f"the workflow ended before {comment} could be cancelled:\n{stderr_path.read_text()[-6000:]}")


def test_tiny_workflow_on_slurm_resumes_a_cancelled_train_job(tmp_path, slurm_cluster):
    # The tiny config plus one model that trains long enough (a few seconds) to be cancelled.
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["models"]["long"] = {"base": "mlp", "train": {"epochs": 400}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    workdir = tmp_path / "work"
    models = ["cnn-s1", "mlp", "long"]
    targets = [f"results/masks/models/{model}/metrics.json" for model in models]
    profile = site_profile(tmp_path / "profile")
    stdout_path, stderr_path = tmp_path / "snakemake.out", tmp_path / "snakemake.err"
    command = snakemake_command(
        workdir, profile, "--snakefile", str(ROOT / "Snakefile"), *targets, "--configfile", str(tmp_path / "config.yaml")
    )
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        try:
            model_dir = workdir / "results" / "masks" / "models"
            cancelled = cancel_when_training(process, stderr_path, model_dir / "long" / "history.csv", "rule_train_wildcards_masks_long")
            process.wait(timeout=RUN_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
    finished(process, stdout_path.read_text(), stderr_path.read_text())

    for model in models:
        metrics = json.loads((model_dir / model / "metrics.json").read_text())
        assert metrics["model"] == model and set(metrics["splits"]) >= {"val", "test"}
        assert (model_dir / model / "checkpoint.pt").stat().st_size > 0
    # Every train job was a SLURM job (sbatch's record, and the log the plugin gave it).
    jobs = slurm_jobs(run_id(stderr_path.read_text()))
    for model in ("cnn-s1", "mlp"):
        assert states_of(jobs, f"rule_train_wildcards_masks_{model}") == ["COMPLETED"]
    assert states_of(jobs, "rule_train_wildcards_masks_long") == ["CANCELLED", "COMPLETED"]
    assert {"id": cancelled, "comment": "rule_train_wildcards_masks_long", "state": "CANCELLED"} in jobs
    for job in jobs:
        if job["comment"].startswith("rule_train_wildcards_masks_"):
            wildcards = job["comment"].removeprefix("rule_train_wildcards_")
            assert (workdir / ".snakemake" / "slurm_logs" / "rule_train" / wildcards / f"{job['id']}.log").is_file()
    # The retry continued after the epochs the cancelled job had saved, and finished the run.
    log = (workdir / "results" / "masks" / "logs" / "train" / "long.log").read_text()
    resumed = re.search(r"resuming from \S+ after epoch (\d+)", log)
    assert resumed and int(resumed.group(1)) >= 2, log[-3000:]
    assert [int(row["epoch"]) for row in history_rows(model_dir / "long" / "history.csv")] == list(range(1, 401))
    assert not (model_dir / "long" / "resume.pt").exists()
