"""profiles/default (local, applied to every run) and profiles/slurm, as Snakemake reads them.

Snakemake applies profiles/default (the workflow profile) on top of `--profile profiles/slurm`,
winning for every key both set; these tests check what the merged settings are, and run real
Snakemake jobs to see the resources the profiles give (attempt scaling included). The
cluster itself is exercised in tests/workflow/test_slurm.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from helpers import ROOT, TINY_CONFIG

DEFAULT = ROOT / "profiles" / "default" / "profile.yaml"
SLURM = ROOT / "profiles" / "slurm" / "profile.yaml"


def parsed_args(monkeypatch, *argv: str):
    """Snakemake's own command-line parsing, run from the repository like a user would."""
    from snakemake.cli import parse_args

    monkeypatch.chdir(ROOT)
    _, args = parse_args([*argv, "--dry-run"])
    return args


def test_default_profile_never_sets_what_would_replace_the_cluster_profile():
    profile = yaml.safe_load(DEFAULT.read_text())
    assert {"default-resources", "set-resources", "set-threads", "executor", "jobs"}.isdisjoint(profile)
    assert profile["cores"] == "all" and profile["keep-going"] is True
    assert set(profile["rerun-triggers"]) == {"mtime", "params", "input", "code"}


@pytest.mark.parametrize(("visible", "limit"), [("0,1,2", 3), ("5", 1), ("", 1)])
def test_local_gpu_limit_is_the_number_of_visible_gpus(monkeypatch, visible, limit):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    args = parsed_args(monkeypatch)
    assert args.resources["gpu"].value == limit
    assert args.keep_going and args.executor is None


def test_slurm_profile_merged_with_the_workflow_profile(monkeypatch):
    args = parsed_args(monkeypatch, "--profile", "profiles/slurm")
    assert args.executor == "slurm" and args.jobs >= 10
    # Without accounting sacct never reports a job finished: squeue it is.
    assert args.slurm_status_command == "squeue"
    assert args.retries >= 1 and args.latency_wait >= 30 and args.keep_going
    assert {"slurm_partition", "runtime", "mem_mb"} <= set(args.default_resources)
    assert {"slurm_partition", "gres", "cpus_per_gpu", "gpu", "mem_mb", "runtime"} <= set(args.set_resources["train"])
    # The workflow profile only adds the local GPU limit; the train rule opts out of it.
    assert set(args.resources) == {"gpu"}
    assert args.set_resources["train"]["gpu"].value == 0


def test_resources_grow_with_each_attempt(tmp_path):
    """A real run of the slurm profile's resources (local executor): both rules fail until
    their second attempt, which gets twice the memory and runtime."""
    (tmp_path / "Snakefile").write_text(
        textwrap.dedent(
            """
            rule all:
                input: "train.txt", "other.txt"

            rule train:
                output: "train.txt"
                shell: "test {resources.mem_mb} -gt 8000 || exit 1; echo mem_mb={resources.mem_mb} runtime={resources.runtime} gres={resources.gres} slurm_partition={resources.slurm_partition} gpu={resources.gpu} cpus_per_gpu={resources.cpus_per_gpu} {threads} > {output}"

            rule other:
                output: "other.txt"
                shell: "test {resources.mem_mb} -gt 2000 || exit 1; echo mem_mb={resources.mem_mb} runtime={resources.runtime} slurm_partition={resources.slurm_partition} > {output}"
            """
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(tmp_path / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--profile",
            str(SLURM.parent),
            "--executor",
            "local",
            "--cores",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    train = (tmp_path / "train.txt").read_text()
    assert re.search(r"\bmem_mb=16000\b", train) and re.search(r"\bruntime=240\b", train)
    assert "gres=gpu:1" in train and "slurm_partition=gpu" in train and "gpu=0" in train
    threads = train.split()[-1]
    assert threads == "4" and f"cpus_per_gpu={threads}" in train
    other = (tmp_path / "other.txt").read_text()
    assert re.search(r"\bmem_mb=4000\b", other) and re.search(r"\bruntime=60\b", other)
    assert "slurm_partition=cpu" in other


def test_tiny_workflow_plan_under_the_slurm_profile(tmp_path):
    """Dry run of the real workflow: train jobs ask SLURM for a GPU, the others do not."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(TINY_CONFIG),
            "--profile",
            str(SLURM.parent),
            "--dry-run",
            "all",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    resources = {}  # rule -> set of resource lines of its jobs
    for rule, block in re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?:\n\n|\Z)", done.stdout, flags=re.S | re.M):
        line = re.search(r"resources: (.*)", block)
        if line:
            resources.setdefault(rule, set()).add(line.group(1))
    assert resources["train"] and resources.keys() - {"train"}
    for line in resources["train"]:
        assert "gres=gpu:1" in line and "slurm_partition=gpu" in line and "gpu=0" in line
    for rule, lines in resources.items():
        if rule != "train":
            assert all("gres=" not in line and "slurm_partition=cpu" in line for line in lines), rule
