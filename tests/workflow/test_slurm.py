"""profiles/slurm on a real SLURM: a one-node cluster on this machine (scripts/slurm/cluster.sh).

The module starts the cluster (installing slurm-wlm and munge if needed), and stops it at the
end if it started it. It is skipped, saying why, only where SLURM cannot be started here (not
root, no apt-get). The cluster has no accounting (no slurmdbd): the profile's commented squeue
status line is switched on, as docs/cluster.md says for such a cluster; the jobs that ended are
counted in its job completion log (jobcomp/filetxt). Its node has one GPU that nothing can
compute on, so GPU requests are accepted and a training refuses to run on the CPU.

The profile is used as a user would after fitting it to this cluster (`site_profile`): the
partition stays unset (the cluster's default, `debug`), memory is smaller; retries,
attempt-scaled resources, groups, the runtime cap and latency wait are the real profile's.
`test_the_cluster_guide_step_by_step` follows docs/cluster.md on it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from helpers import ROOT, TINY_CONFIG
from helpers.scheduler import nap_targets, rounds, workflow_with_naps
from helpers.snakemake import run_snakemake

pytestmark = pytest.mark.slurm

CLUSTER = ROOT / "scripts" / "slurm" / "cluster.sh"
PARTITION = "debug"
# A bound on each Snakemake run, so that a status check that never sees its jobs finish (the
# sacct-without-accounting hang) fails the test instead of hanging it.
RUN_TIMEOUT = 540


LEGACY_CONF = Path("/etc/slurm/slurm.conf")
# The line scripts/slurm/cluster.sh put in the /etc/slurm/slurm.conf it wrote before it kept
# the config in its state folder.
LEGACY_MARKER = "# written by maskflow scripts/slurm/cluster.sh"


def cluster_sh(command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), command], capture_output=True, text=True, timeout=timeout)


def plain_environment(patch: pytest.MonkeyPatch) -> None:
    """The environment anyone on this machine has: without the cluster's SLURM_CONF and
    client wrappers (slurm_cluster)."""
    patch.delenv("SLURM_CONF", raising=False)
    wrappers = cluster_sh("bin").stdout.strip()
    patch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != wrappers))


def plain_scontrol_answer() -> tuple[int, str]:
    """(exit status, stderr) of `scontrol show config` as anyone on this machine runs it (no
    SLURM_CONF, no client wrappers): the probe the SLURM executor plugin runs at every Snakemake
    start. A config left pointing at a stopped controller changes this answer (scontrol then
    waits for the controller, ~9 s a start), so equal answers mean equal starts, untimed."""
    with pytest.MonkeyPatch.context() as patch:
        plain_environment(patch)
        probe = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=120)
    return probe.returncode, probe.stderr.strip()


@dataclass
class Cluster:
    conf: Path  # the cluster's slurm.conf, in cluster.sh's state folder
    started: bool  # by this module (else someone else runs it, and it stays up)
    etc_conf_before: str | None  # /etc/slurm/slurm.conf before the module started the cluster
    scontrol_before: tuple[int, str]  # plain_scontrol_answer before the cluster started

    def stop(self) -> None:
        """Stop the cluster if this module started it (idempotent)."""
        if self.started:
            stopped = cluster_sh("stop")
            assert stopped.returncode == 0, f"cluster.sh stop failed:\n{stopped.stdout}\n{stopped.stderr}"
            self.started = False


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """The one-node cluster, seen by this module's processes only: SLURM_CONF points at its
    config, and its client wrappers (srun, sbatch, ...: they set SLURM_CONF themselves) come
    first on PATH, for SLURM commands, Snakemake runs and, through sbatch, their jobs. Inside a
    job the executor plugin runs srun without SLURM_CONF: the wrapper puts it back."""
    if os.geteuid() != 0:
        pytest.skip("SLURM cannot be started here: not root (slurmctld and slurmd run as root)")
    installed = cluster_sh("install", timeout=900)
    if installed.returncode == 3:
        pytest.skip(f"SLURM cannot be started here: {installed.stderr.strip()}")
    assert installed.returncode == 0, f"cluster.sh install failed:\n{installed.stdout}\n{installed.stderr}"
    etc_conf_before = LEGACY_CONF.read_text() if LEGACY_CONF.is_file() else None
    # Measured with SLURM installed, before the cluster exists: what a later run is held to.
    scontrol_before = plain_scontrol_answer()
    started = cluster_sh("start", timeout=900)
    if started.returncode == 3:
        pytest.skip(f"SLURM cannot be started here: {started.stderr.strip()}")
    assert started.returncode == 0, f"cluster.sh start failed:\n{started.stdout}\n{started.stderr}"
    conf = Path(cluster_sh("conf").stdout.strip())
    wrappers = Path(cluster_sh("bin").stdout.strip())
    assert conf.is_file() and (wrappers / "srun").is_file(), (conf, wrappers)
    cluster = Cluster(conf, started.stdout.strip() == "started", etc_conf_before, scontrol_before)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SLURM_CONF", str(conf))
            patch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
            yield cluster
    finally:
        # Stop only what this module started; a cluster someone else runs stays up.
        cluster.stop()


def site_profile(folder: Path) -> Path:
    """profiles/slurm with the edits its comments ask for on this one-node cluster: no
    accounting (job status through squeue), memory a test machine has, quick status checks."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "profile.yaml").read_text())
    # The partition stays unset, as in the profile: the plugin asks sinfo for the default one.
    assert "slurm_partition" not in profile["default-resources"]
    profile["slurm-status-command"] = "squeue"
    # Still growing with the attempt, but small enough for any test machine.
    assert "attempt" in profile["default-resources"]["mem_mb"]
    profile["default-resources"]["mem_mb"] = "500 * attempt"
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
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [dict(zip(("id", "comment", "state", "reason"), line.split("|"))) for line in listing.splitlines() if line]


def ids_of(jobs: list[dict], comment: str, state: str) -> list[str]:
    return [job["id"] for job in jobs if job["comment"] == comment and job["state"] == state]


def states_of(jobs: list[dict], comment: str) -> list[str]:
    return [job["state"] for job in sorted(jobs, key=lambda j: int(j["id"])) if job["comment"] == comment]


def models_trained_in(workdir: Path, job_id: str) -> set[str]:
    """The models whose training the SLURM job `job_id` ran, from the plugin's log of the job
    (the train commands Snakemake prints there). A CPU model's train and evaluate jobs travel in
    a group job, whose comment names no model."""
    found: set[str] = set()
    for log in (workdir / ".snakemake" / "slurm_logs").rglob(f"{job_id}.log"):
        found |= set(re.findall(r"--history \S*?models/([^/\s]+)/history\.csv", log.read_text(errors="replace")))
    return found


def slurm_log_tail(workdir: Path, job_id: str, lines: int = 40) -> str:
    """The last lines of the plugin's log of SLURM job `job_id`, to explain a failed job."""
    logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob(f"{job_id}.log"))
    return "\n".join("\n".join(log.read_text(errors="replace").splitlines()[-lines:]) for log in logs) or "(no log)"


def trained_model(workdir: Path, job_id: str) -> str | None:
    """The one model the SLURM job `job_id` trained, else None."""
    found = models_trained_in(workdir, job_id)
    return found.pop() if len(found) == 1 else None


def model_states(workdir: Path, jobs: list[dict], model: str) -> list[str]:
    """States of the SLURM jobs (oldest first) that trained `model`."""
    return [
        job["state"] for job in sorted(jobs, key=lambda j: int(j["id"])) if trained_model(workdir, job["id"]) == model
    ]


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
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
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
        [
            "sbatch",
            "--parsable",
            "-p",
            "urgent",
            "-c",
            str(len(os.sched_getaffinity(0))),
            "--mem",
            "100",
            "-t",
            "1",
            "--output",
            "/dev/null",
            "--wrap",
            "sleep 1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def interrupt_training(process: subprocess.Popen, stderr_path: Path, model_dir: Path, interruptions: dict) -> dict:
    """Apply interruptions[model](job_id) to each model's running train job once its training
    has saved two epochs; wait for the run to end; return {model: interrupted job id}."""
    done: dict[str, str] = {}
    workdir = model_dir.parents[2]  # <workdir>/results/<dataset>/models
    deadline = time.monotonic() + RUN_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        log = stderr_path.read_text()
        name = run_id(log) if "SLURM run ID" in log else None
        for model, interrupt in interruptions.items():
            if name and model not in done and len(history_rows(model_dir / model / "history.csv")) >= 2:
                running = [
                    j for j in slurm_jobs(name) if j["state"] == "RUNNING" and trained_model(workdir, j["id"]) == model
                ]
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


def training_outcome(model_dir: Path) -> tuple[dict, list[dict]]:
    """What training ended with: the checkpoint dict, and history.csv without its wall-clock
    columns (`seconds`: how long each epoch took, which no two runs share)."""
    checkpoint = torch.load(model_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    rows = [
        {k: v for k, v in row.items() if k != "seconds" and not k.endswith("_seconds")}
        for row in history_rows(model_dir / "history.csv")
    ]
    return checkpoint, rows


def assert_same_training(model: str, resumed_dir: Path, reference_dir: Path) -> None:
    """The interrupted and resumed model ended exactly where the uninterrupted one did: same
    data, every weight tensor bit for bit, same epochs and the same history row for row."""
    resumed, resumed_history = training_outcome(resumed_dir)
    reference, reference_history = training_outcome(reference_dir)
    assert resumed["data_sha256"] == reference["data_sha256"], model
    assert resumed["model_state"].keys() == reference["model_state"].keys(), model
    # Equal NaN weights would prove nothing (and torch.equal says NaN != NaN).
    assert all(torch.isfinite(t).all() for t in reference["model_state"].values()), f"{model}: weights not finite"
    for name, tensor in reference["model_state"].items():
        other = resumed["model_state"][name]
        assert other.dtype == tensor.dtype and other.shape == tensor.shape, f"{model}: {name}"
        assert torch.equal(other, tensor), f"{model}: {name} differs from the uninterrupted run's"
    assert resumed["weights_sha256"] == reference["weights_sha256"], model
    for key in ("epoch", "best_epoch", "val_metrics", "seed"):
        assert resumed[key] == reference[key], f"{model}: {key}"
    assert resumed_history == reference_history, f"{model}: history.csv differs from the uninterrupted run's"


def train_threads(output: str) -> dict[str, list[int]]:
    """--threads of every `maskflow train` command in Snakemake's printed shell commands."""
    found: dict[str, list[int]] = {}
    for match in re.finditer(
        r"maskflow train .*?--history \S*?models/([^/\s]+)/history\.csv.*?--threads (\d+)", output
    ):
        found.setdefault(match.group(1), []).append(int(match.group(2)))
    return found


def test_tiny_workflow_on_slurm_resumes_cancelled_and_preempted_training(tmp_path, slurm_cluster):
    # The tiny config plus two models that train long enough (seconds) to be interrupted.
    epochs = 400
    config = yaml.safe_load(TINY_CONFIG.read_text())
    for model in ("cancelled", "preempted"):
        # The mlp's lr (0.05) turns its weights to NaN after ~20 epochs, and NaN weights would
        # make the comparison with an uninterrupted run below say nothing: 0.01 stays finite.
        config["models"][model] = {"base": "mlp", "train": {"epochs": epochs, "lr": 0.01}}
    config["models"]["mlp"]["cluster"] = {"mem_mb": 1000}  # the three models' memory (base)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    workdir = tmp_path / "work"
    # A subset of the tiny DAG keeps the run to a few minutes: data stage, three trainings, evaluations.
    models = ["mlp", "cancelled", "preempted"]
    targets = [f"results/masks/models/{model}/metrics.json" for model in models]
    profile = site_profile(tmp_path / "profile")
    stdout_path, stderr_path = tmp_path / "snakemake.out", tmp_path / "snakemake.err"
    command = snakemake_command(
        workdir,
        profile,
        "--snakefile",
        str(ROOT / "Snakefile"),
        *targets,
        "--configfile",
        str(tmp_path / "config.yaml"),
        # Each CPU model's train and evaluate jobs: a SLURM job of their own, so that one can be
        # cancelled and another preempted.
        "--group-components",
        "small_jobs=1",
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
    # Every training ran in a SLURM job of its own: a group job (the model's train and evaluate
    # jobs) that the plugin logged.
    jobs = slurm_jobs(run_id(stderr_path.read_text()))
    for model in ("mlp", "preempted"):
        assert model_states(workdir, jobs, model) == ["COMPLETED"], model
    # scancel: the job ended CANCELLED and Snakemake's retry (a new job) resumed training.
    assert model_states(workdir, jobs, "cancelled") == ["CANCELLED", "COMPLETED"]
    assert trained_model(workdir, interrupted["cancelled"]) == "cancelled"
    assert {job["comment"] for job in jobs if trained_model(workdir, job["id"])} == {
        "rule_small_jobs_evaluate_model_train"
    }
    assert_resumed(workdir, "cancelled", epochs)
    # Preemption: SLURM requeued the same job, which resumed training when it started again.
    assert restarts(interrupted["preempted"]) >= 1
    assert_resumed(workdir, "preempted", epochs)

    # The README's claim: training resumed after an interruption ends with the same weights as
    # an uninterrupted run. The uninterrupted run: the same models, config and thread count
    # (1, as in the SLURM train jobs: site_profile), trained locally in one go.
    reference = tmp_path / "reference"
    local = run_snakemake(
        reference,
        *[f"results/masks/models/{model}/checkpoint.pt" for model in models],
        config=tmp_path / "config.yaml",
        timeout=RUN_TIMEOUT,
    )
    assert "resuming" not in "".join(
        (reference / "results" / "masks" / "logs" / "train" / f"{model}.log").read_text() for model in models
    )
    slurm_threads = train_threads(
        "".join(p.read_text() for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    )
    local_threads = train_threads(local.stdout + local.stderr)
    for model in models:
        assert set(slurm_threads[model]) == set(local_threads[model]) == {1}, (model, slurm_threads, local_threads)
        assert_same_training(model, model_dir / model, reference / "results" / "masks" / "models" / model)


def test_a_cluster_run_keeps_snakemakes_job_rate_limit(tmp_path, slurm_cluster):
    """The workflow drops the job rate limit from local runs only (tests/workflow/test_scheduler_rounds.py
    counts that side): on a cluster its 1-second timer keeps scheduling rounds going while the
    jobs wait in SLURM, so there are more rounds than jobs."""
    snakefile = workflow_with_naps(tmp_path / "repo")
    profile = site_profile(tmp_path / "profile")
    jobs = 2
    done = subprocess.run(
        snakemake_command(
            tmp_path / "run",
            profile,
            "--snakefile",
            str(snakefile),
            "--configfile",
            str(TINY_CONFIG),
            "--verbose",
            # one job at a time: the second waits ready, so every round while the first runs in
            # SLURM is printed (Snakemake logs a round only when some job is ready to select)
            "--jobs",
            "1",
            *nap_targets(jobs),
        ),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    finished(done, done.stdout, done.stderr)
    run_id(done.stderr)  # the jobs went through SLURM
    counted = rounds(done.stdout + done.stderr)
    # without the limiter: one round at the start and one per finished job but the last (`jobs`);
    # with it, its 1-second timer adds rounds while the first nap waits and runs in SLURM
    assert counted > jobs + 1, f"{counted} scheduling rounds for {jobs} SLURM jobs: the rate limit was dropped"


SWEEP_MEMBERS = 40


def jobcomp_records(run: str, jobs=(), wait: float = 60) -> list[dict]:
    """The cluster's job completion log (JobCompType=jobcomp/filetxt): one dict per ended job
    named `run` (the plugin names every job of a run after the run's id). slurmctld writes a
    job's line after Snakemake may have seen the job end: wait until each of `jobs` has a whole
    line (its last field, ExitCode, written)."""
    path = Path(cluster_sh("jobcomp").stdout.strip())
    deadline = time.monotonic() + wait
    while True:
        records = [dict(re.findall(r"(\w+)=(\S*)", line)) for line in path.read_text().splitlines()]
        mine = [record for record in records if record.get("Name") == run]
        whole = {record["JobId"] for record in mine if "ExitCode" in record}
        if set(jobs) <= whole or time.monotonic() > deadline:
            return mine
        time.sleep(0.5)


def submissions(output: str) -> dict[str, str]:
    """SLURM job id -> the sbatch call that made it, from Snakemake's --verbose output.

    Submissions overlap: the plugin may print a job's call before the id of the job called
    before it (seen: a group's call, then the GPU job's id, then the group's id). So a call and
    an id are paired by their log folder (`--output <folder>/%j.log`, `(log: <folder>/<id>.log)`),
    in order within a folder, whose calls are alike (one rule and wildcards, or one group)."""
    calls: dict[str, list[str]] = {}
    for call in re.findall(r"sbatch call: (.*)", output):
        calls.setdefault(re.search(r"--output (\S+)/%j\.log", call).group(1), []).append(call)
    paired = {}
    for job, folder in re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)/\d+\.log\)", output):
        assert calls.get(folder), f"SLURM job {job}: no sbatch call left for {folder}"
        paired[job] = calls[folder].pop(0)
    assert not any(calls.values()), f"sbatch calls without a submitted job: {calls}"
    return paired


def test_submissions_pairs_each_job_with_its_own_call_when_submissions_overlap():
    """The order seen on a loaded machine: the GPU job's id printed before the group's (which
    was called first). Pairing by order gave the GPU job, which fails on purpose, to a group."""
    logs = "/w/.snakemake/slurm_logs"
    output = "\n".join(
        [
            f"sbatch call: sbatch --output {logs}/group_small_jobs_evaluate_model_train/%j.log --comment rule_small_jobs_a",
            f"sbatch call: sbatch --output {logs}/rule_train/masks_gpu_net/%j.log --comment rule_train_gpu --gpus=1",
            f"Job 74 has been submitted with SLURM jobid 97 (log: {logs}/rule_train/masks_gpu_net/97.log).",
            f"Job ea10 has been submitted with SLURM jobid 98 (log: {logs}/group_small_jobs_evaluate_model_train/98.log).",
        ]
    )
    paired = submissions(output)
    assert "--gpus=1" in paired["97"] and "rule_small_jobs_a" in paired["98"]


def local_jobs_at_once(output: str, rule_prefix: str) -> int:
    """Most jobs of rules named rule_prefix* running at once on the submitting host, from the
    order in which Snakemake printed their starts and ends."""
    events = [
        (m.start(), "start", m.group(2))
        for m in re.finditer(rf"localrule ({rule_prefix}\w*):\n(?:.*\n)*?\s*jobid: (\d+)", output)
    ]
    events += [(m.start(), "end", m.group(1)) for m in re.finditer(r"Finished jobid: (\d+)", output)]
    running: set[str] = set()
    most = 0
    for _, kind, job in sorted(events):
        if kind == "start":
            running.add(job)
            most = max(most, len(running))
        else:
            running.discard(job)
    return most


def test_a_sweep_travels_in_few_jobs_and_only_a_gpu_model_asks_for_a_gpu(tmp_path, slurm_cluster):
    """A 40-member NumPy sweep and a torch network that can use a GPU, through the profile: the
    sweep's train and evaluate jobs travel in 4 SLURM jobs (the profile's groups of 10) that ask
    for no GPU, with the same results as a local run; the network asks for the node's GPU with
    its own memory and its runtime capped by the profile, and, PyTorch finding no card there,
    refuses in one line to train on the CPU, at each of the profile's retries; figures run on the
    login node, one at a time. A group asks for one member's CPU and memory and the sum of the
    members' runtimes: the plugin runs a group's jobs one after another."""
    if torch.cuda.is_available():
        pytest.skip("the GPU refusal needs a machine where PyTorch sees no GPU")
    from maskflow.config import load_and_check

    profile = site_profile(tmp_path / "profile")
    settings = yaml.safe_load((profile / "profile.yaml").read_text())
    groups = settings["group-components"]["small_jobs"]
    assert groups == 10
    settings["config"]["cluster_max_runtime"] = 100  # this cluster's MaxTime, say
    (profile / "profile.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["models"]["np"] = {
        "arch": {"type": "numpy_mlp", "hidden": [4]},
        "train": {"epochs": 1},
        "cluster": {"runtime": 2, "mem_mb": 300},
    }
    config["sweeps"]["np_lr"] = {
        "base": "np",
        "grid": {"train.lr": [round(0.01 * (i + 1), 2) for i in range(SWEEP_MEMBERS)]},
    }
    config["models"]["gpu_net"] = {"base": "cnn", "device": "auto", "cluster": {"runtime": 300, "mem_mb": 900}}
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    resolved = load_and_check(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    members = sorted(name for name, spec in resolved["models"].items() if spec["sweep"] == "np_lr")
    assert len(members) == SWEEP_MEMBERS
    metrics = [f"results/masks/models/{m}/metrics.json" for m in members]
    figures = [f"results/masks/figures/{m}/learning_curves.png" for m in members[:8]]
    workdir = tmp_path / "work"
    done = subprocess.run(
        snakemake_command(
            workdir,
            profile,
            *metrics,
            *figures,
            "results/masks/models/gpu_net/checkpoint.pt",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--configfile",
            str(config_path),
            "--verbose",
            # The profile's retries, as users run it: the GPU refusal, certain, is submitted
            # twice more, and each attempt's request is checked below.
            # One figure at a time on the login node (profiles/default allows 4); the command
            # line replaces profiles/default's list, so its group limit is named again.
            "--resources",
            "login_node_jobs=1",
            "group_job_slots=1",
        ),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    output = done.stdout + done.stderr
    (tmp_path / "snakemake.log").write_text(output)  # kept for a look after a failure
    assert done.returncode != 0, "the GPU network should have refused to train"
    run = run_id(done.stderr)
    calls = submissions(output)

    # The network: a job of its own at each attempt, that asked for a GPU, its memory times the
    # attempt and the runtime capped (300, 600, 900 minutes asked: 100 each time).
    gpu_calls = [call for call in calls.values() if "rule_train_wildcards_masks_gpu_net" in call]
    assert len(gpu_calls) == 1 + settings["retries"], calls
    for attempt, call in enumerate(gpu_calls, start=1):
        assert re.search(r" --gpus=1\b", call) and f"--mem {900 * attempt} " in call and " -t 100 " in call, call
        assert "--cpus-per-task=1" in call and " -p debug" in call, call
    refusal = (workdir / "results" / "masks" / "logs" / "train" / "gpu_net.log").read_text()
    assert re.search(
        r"promised a GPU \(.*SLURM_\w*GPUS\w*=[1-9].*\) but PyTorch sees none.*refusing to train on the CPU", refusal
    ), refusal
    assert "Traceback" not in refusal
    assert not (workdir / "results" / "masks" / "models" / "gpu_net" / "checkpoint.pt").exists()

    # The sweep: its 80 train and evaluate jobs in 4 SLURM jobs, none asking for a GPU.
    group_ids = [job for job, call in calls.items() if "--comment rule_small_jobs_" in call]
    assert len(group_ids) == SWEEP_MEMBERS // groups, calls
    assert all("--gpus" not in call and "--gres" not in call for job, call in calls.items() if job in group_ids)
    # Each asks for its members run one after another, as the plugin's job step runs them: one
    # CPU, the largest member's memory (its evaluation's), the sum of their runtimes. Sized for
    # members side by side it asked for the login node's CPUs and the sum of their memory.
    needs = resolved["models"][members[0]]["cluster"]
    memory = max(needs["mem_mb"], needs["evaluate"]["mem_mb"])
    runtime = groups * (needs["runtime"] + needs["evaluate"]["runtime"])
    for job in group_ids:
        call = calls[job]
        assert "--cpus-per-task=1 " in call and f"--mem {memory} " in call and f" -t {runtime} " in call, call
    assert all("--gpus" not in call for call in calls.values() if call not in gpu_calls)
    # Nothing else went to SLURM but the data stage (validate, split, cache): figures stayed local.
    others = [call for job, call in calls.items() if job not in group_ids and call not in gpu_calls]
    assert sorted(re.search(r"--comment rule_(\w+?)_wildcards", call).group(1) for call in others) == [
        "cache",
        "split",
        "validate",
    ]
    # SLURM's own record: every submitted job ended, the groups completed (else: their logs).
    ended = {record["JobId"]: record["JobState"] for record in jobcomp_records(run, calls)}
    assert ended.keys() == calls.keys(), (ended, calls)
    unfinished = {job: (ended[job], slurm_log_tail(workdir, job)) for job in group_ids if ended[job] != "COMPLETED"}
    assert not unfinished, unfinished
    # Each member trained in one of them, exactly once.
    trained = [model for job in group_ids for model in models_trained_in(workdir, job)]
    assert sorted(trained) == members
    assert local_jobs_at_once(output, "figure_") == 1
    for figure in figures:
        assert (workdir / figure).stat().st_size > 0

    # The same results as a local run of the same sweep.
    reference = tmp_path / "reference"
    run_snakemake(reference, *metrics, config=config_path, timeout=RUN_TIMEOUT)
    for target in metrics:
        grouped, local = (json.loads((root / target).read_text()) for root in (workdir, reference))
        assert grouped["splits"] == local["splits"], target


GUIDE = ROOT / "docs" / "cluster.md"


def guide_step(command: str) -> str:
    """A command of docs/cluster.md, which the walkthrough below runs (adapted to this cluster)."""
    assert command in GUIDE.read_text(), f"docs/cluster.md no longer says: {command}"
    return command


def test_the_cluster_guide_step_by_step(tmp_path, slurm_cluster):
    """docs/cluster.md, followed on this one-node cluster: install, GPU check, a copy of the
    profile, preview, run, watch, and the recovery after the login-node Snakemake is killed."""
    from importlib.metadata import version

    # 1. Installed with the extra, at the version floor the guide names.
    guide_step("pip install -e '.[slurm]'")
    assert tuple(int(part) for part in version("snakemake-executor-plugin-slurm").split(".")[:2]) >= (2, 7)
    # The GPU check, on this cluster's node (its partition is the default one, not `gpu`).
    guide_step('--gpus=1 -t 5 .venv/bin/python -c "import torch; print(torch.cuda.is_available(), torch.version.cuda)"')
    checked = subprocess.run(
        [
            "srun",
            "--gpus=1",
            "-t",
            "5",
            sys.executable,
            "-c",
            "import torch; print(torch.cuda.is_available(), torch.version.cuda)",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert checked.returncode == 0 and checked.stdout.split()[0] == str(torch.cuda.is_available()), checked

    # 2. A copy of the profile, edited as the guide says for a cluster without accounting.
    guide_step("cp -r profiles/slurm profiles/my-cluster")
    mine = tmp_path / "profiles" / "my-cluster"
    shutil.copytree(ROOT / "profiles" / "slurm", mine)
    text = (mine / "profile.yaml").read_text()
    guide_step("uncomment `slurm-status-command: squeue`")
    for line, edited in [
        ("# slurm-status-command: squeue", "slurm-status-command: squeue"),
        ("cluster_max_runtime: 1440", "cluster_max_runtime: 60"),
        # Not in the guide: a quicker first status check, for the test's sake.
        ("slurm-init-seconds-before-status-checks: 40", "slurm-init-seconds-before-status-checks: 2"),
    ]:
        assert line in text, line
        text = text.replace(line, edited)
    (mine / "profile.yaml").write_text(text)
    config = yaml.safe_load(TINY_CONFIG.read_text())
    # A model that trains long enough to be interrupted.
    config["models"]["mlp"]["train"].update({"epochs": 300, "lr": 0.01})
    config["models"]["mlp"]["cluster"] = {"mem_mb": 1000}
    config_path = tmp_path / "my.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    workdir = tmp_path / "work"

    def snakemake(*args: str) -> list[str]:
        # Targets first, options after; the repository's Snakefile, run from the working directory.
        return [
            *snakemake_command(workdir, mine, *args),
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--configfile",
            str(config_path),
        ]

    # 3. The preview: every job's resources, and the group of the CPU models' small jobs.
    guide_step("snakemake all --profile profiles/my-cluster -n")
    preview = subprocess.run(snakemake("all", "-n"), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert preview.returncode == 0, preview.stderr[-3000:]
    assert "Group job small_jobs" in preview.stdout and "runtime=60" in preview.stdout  # 120, capped

    # 4. The run, watched with squeue; then the login-node Snakemake is killed mid-training.
    guide_step("snakemake all --profile profiles/my-cluster")
    target = "results/masks/models/mlp/metrics.json"
    history = workdir / "results" / "masks" / "models" / "mlp" / "history.csv"
    err_path = tmp_path / "first.err"
    with open(err_path, "w") as err:
        process = subprocess.Popen(snakemake(target), stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + RUN_TIMEOUT
        while len(history_rows(history)) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        watch = subprocess.run(
            ["squeue", "--me", "-o", guide_step("%.10i %.9P %.40k %.8T %.10M %R")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        process.kill()
        process.wait()
    assert re.search(r"rule_small_jobs_evaluate_model_train\s+RUNNING", watch.stdout), watch.stdout
    run = run_id(err_path.read_text())
    assert any(job["state"] == "RUNNING" for job in slurm_jobs(run)), "the SLURM job should outlive Snakemake"

    # 5. scancel by the run's name, unlock, rerun: training resumes and the run completes.
    guide_step("scancel --name <the run ID printed at start>")
    subprocess.run(["scancel", "--name", run], check=True, timeout=60)
    deadline = time.monotonic() + 120
    while any(job["state"] in ("RUNNING", "PENDING", "COMPLETING") for job in slurm_jobs(run)):
        assert time.monotonic() < deadline, slurm_jobs(run)
        time.sleep(0.5)
    guide_step("snakemake all --profile profiles/my-cluster --unlock")
    unlocked = subprocess.run(snakemake(target, "--unlock"), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert unlocked.returncode == 0, unlocked.stderr[-3000:]
    guide_step("snakemake all --profile profiles/my-cluster --rerun-incomplete")
    rerun = subprocess.run(snakemake(target, "--rerun-incomplete"), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    finished(rerun, rerun.stdout, rerun.stderr)
    assert_resumed(workdir, "mlp", 300)
    # The rule's log, where the guide says.
    guide_step("results/masks/logs/train/cnn_5x5.log")
    assert (workdir / "results" / "masks" / "logs" / "train" / "mlp.log").is_file()


# Last in the module: it stops the cluster.
def test_the_stopped_cluster_leaves_no_config_behind_and_snakemake_starts_as_before(tmp_path, slurm_cluster):
    # While it runs, the cluster answers this module's processes and no one else: its config is
    # not where SLURM clients look by default.
    ours = re.compile(r"^ClusterName\s*=\s*maskflow$", re.MULTILINE)
    probe = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60)
    assert ours.search(probe.stdout), probe.stdout[-2000:] + probe.stderr
    with pytest.MonkeyPatch.context() as patch:
        plain_environment(patch)
        probe = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60)
    assert not ours.search(probe.stdout), probe.stdout[-2000:]
    assert not str(slurm_cluster.conf).startswith("/etc/")
    slurm_cluster.stop()
    # Nothing written to /etc/slurm: an /etc/slurm/slurm.conf that an earlier cluster.sh wrote
    # is gone, any other is as it was.
    before = slurm_cluster.etc_conf_before
    if before is None or LEGACY_MARKER in before:
        assert not LEGACY_CONF.exists(), LEGACY_CONF.read_text()
    else:
        assert LEGACY_CONF.read_text() == before
    # A plain Snakemake start's SLURM probe gets the answer it got before the cluster existed (a
    # config left behind would make it wait for the stopped controller), and the start works.
    assert plain_scontrol_answer() == slurm_cluster.scontrol_before
    with pytest.MonkeyPatch.context() as patch:
        plain_environment(patch)
        run_snakemake(tmp_path, "-n", "all", timeout=120)
