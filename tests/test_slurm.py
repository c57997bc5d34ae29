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
    """SLURM's own record of the jobs named `name`: id, comment (rule and wildcards), state, reason.

    Finished jobs stay listed for MinJobAge (600 s) after they end."""
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", name, "--format=%i|%k|%T|%r"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return [dict(zip(("id", "comment", "state", "reason"), line.split("|"))) for line in listing.splitlines() if line]


def ids_of(jobs: list[dict], comment: str, state: str) -> list[str]:
    return [job["id"] for job in jobs if job["comment"] == comment and job["state"] == state]


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
        assert job_id in ids_of(jobs, f"rule_work_wildcards_{i}", "COMPLETED")


def history_rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


def scancel(job_id: str) -> None:
    """What a user or an admin does: the job ends CANCELLED; Snakemake retries it."""
    subprocess.run(["scancel", job_id], check=True, timeout=60)


def preempt(job_id: str) -> None:
    """A job in the higher-priority `urgent` partition asks for every CPU of the node: SLURM
    preempts the running jobs, `job_id` among them, and requeues them (same id, started again).
    The node has as many CPUs as `nproc` says (scripts/slurm/cluster.sh)."""
    subprocess.run(
        ["sbatch", "--parsable", "-p", "urgent", "-c", str(len(os.sched_getaffinity(0))), "--mem", "100", "-t", "1", "--output", "/dev/null", "--wrap", "sleep 1"],
        check=True, capture_output=True, timeout=60,
    )


def interrupt_training(process: subprocess.Popen, stderr_path: Path, model_dir: Path, interruptions: dict) -> dict:
    """Apply interruptions[model](job_id) to each model's running train job once its training
    has saved two epochs; wait for the run to end; return {model: interrupted job id}."""
    done: dict[str, str] = {}
    deadline = time.monotonic() + RUN_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        log = stderr_path.read_text()
        name = run_id(log) if "SLURM run ID" in log else None
        for model, interrupt in interruptions.items():
            if name and model not in done and len(history_rows(model_dir / model / "history.csv")) >= 2:
                comment = f"rule_train_wildcards_masks_{model}"
                running = [j for j in slurm_jobs(name) if j["comment"] == comment and j["state"] == "RUNNING"]
                if running:
                    interrupt(running[0]["id"])
                    done[model] = running[0]["id"]
        if name:
            # SLURM holds a requeued job for about two minutes (reason BeginTime); let it go now.
            for job in slurm_jobs(name):
                if job["state"] == "PENDING" and job["reason"] == "BeginTime":
                    subprocess.run(["scontrol", "update", f"jobid={job['id']}", "starttime=now"], timeout=60)
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
    process.wait()
    assert done.keys() == interruptions.keys(), f"not interrupted: {interruptions.keys() - done.keys()}"
    return done


def restarts(job_id: str) -> int:
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True, timeout=60)
    return int(re.search(r"Restarts=(\d+)", shown.stdout).group(1))


def assert_resumed(workdir: Path, model: str, epochs: int) -> None:
    """The train job that ran last continued after the epochs saved before the interruption."""
    log = (workdir / "results" / "masks" / "logs" / "train" / f"{model}.log").read_text()
    resumed = re.search(r"resuming from \S+ after epoch (\d+)", log)
    assert resumed and int(resumed.group(1)) >= 2, log[-3000:]
    model_dir = workdir / "results" / "masks" / "models" / model
    assert [int(row["epoch"]) for row in history_rows(model_dir / "history.csv")] == list(range(1, epochs + 1))
    assert not (model_dir / "resume.pt").exists()


def test_tiny_workflow_on_slurm_resumes_cancelled_and_preempted_training(tmp_path, slurm_cluster):
    # The tiny config plus two models that train long enough (seconds) to be interrupted.
    epochs = 400
    config = yaml.safe_load(TINY_CONFIG.read_text())
    for model in ("cancelled", "preempted"):
        config["models"][model] = {"base": "mlp", "train": {"epochs": epochs}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    workdir = tmp_path / "work"
    # A subset of the tiny DAG keeps the run to a few minutes: data stage, three trainings, evaluations.
    models = ["mlp", "cancelled", "preempted"]
    targets = [f"results/masks/models/{model}/metrics.json" for model in models]
    profile = site_profile(tmp_path / "profile")
    stdout_path, stderr_path = tmp_path / "snakemake.out", tmp_path / "snakemake.err"
    command = snakemake_command(
        workdir, profile, "--snakefile", str(ROOT / "Snakefile"), *targets, "--configfile", str(tmp_path / "config.yaml")
    )
    model_dir = workdir / "results" / "masks" / "models"
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        interrupted = interrupt_training(process, stderr_path, model_dir, {"cancelled": scancel, "preempted": preempt})
    finished(process, stdout_path.read_text(), stderr_path.read_text())

    for model in models:
        metrics = json.loads((model_dir / model / "metrics.json").read_text())
        assert metrics["model"] == model and set(metrics["splits"]) >= {"val", "test"}
        assert (model_dir / model / "checkpoint.pt").stat().st_size > 0
    # Every train job was a SLURM job (sbatch's record, and the log the plugin gave it).
    jobs = slurm_jobs(run_id(stderr_path.read_text()))
    for model in ("mlp", "preempted"):
        assert states_of(jobs, f"rule_train_wildcards_masks_{model}") == ["COMPLETED"]
    for job in jobs:
        if job["comment"].startswith("rule_train_wildcards_masks_"):
            wildcards = job["comment"].removeprefix("rule_train_wildcards_")
            assert (workdir / ".snakemake" / "slurm_logs" / "rule_train" / wildcards / f"{job['id']}.log").is_file()
    # scancel: the job ended CANCELLED and Snakemake's retry (a new job) resumed training.
    assert states_of(jobs, "rule_train_wildcards_masks_cancelled") == ["CANCELLED", "COMPLETED"]
    assert interrupted["cancelled"] in ids_of(jobs, "rule_train_wildcards_masks_cancelled", "CANCELLED")
    assert_resumed(workdir, "cancelled", epochs)
    # Preemption: SLURM requeued the same job, which resumed training when it started again.
    assert restarts(interrupted["preempted"]) >= 1
    assert_resumed(workdir, "preempted", epochs)
