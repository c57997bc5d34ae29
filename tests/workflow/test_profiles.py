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
    assert {"default-resources", "set-resources", "set-threads", "executor", "jobs", "config"}.isdisjoint(profile)
    assert profile["cores"] == "all" and profile["keep-going"] is True
    assert set(profile["rerun-triggers"]) == {"mtime", "params", "input", "code"}
    # `gpu` is the SLURM plugin's own request for a card: the local counter has another name.
    assert set(profile["resources"]) == {"local_gpu_slots", "login_node_jobs", "group_job_slots"}


@pytest.mark.parametrize(("visible", "limit"), [("0,1,2", 3), ("5", 1), ("", 1)])
def test_local_gpu_limit_is_the_number_of_visible_gpus(monkeypatch, visible, limit):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    args = parsed_args(monkeypatch)
    assert args.resources["local_gpu_slots"].value == limit
    assert "gpu" not in args.resources
    assert args.keep_going and args.executor is None


def test_slurm_profile_merged_with_the_workflow_profile(monkeypatch):
    args = parsed_args(monkeypatch, "--profile", "profiles/slurm")
    assert args.executor == "slurm" and args.jobs >= 10
    # The plugin's default status command (sacct) stays; squeue is a commented line for
    # clusters without accounting.
    assert not yaml.safe_load(SLURM.read_text()).get("slurm-status-command")
    assert re.search(r"^# slurm-status-command: squeue$", SLURM.read_text(), re.M)
    assert args.retries >= 1 and args.latency_wait >= 30 and args.keep_going
    # No placeholder partition: the cluster's default unless the user sets one.
    assert "slurm_partition" not in args.default_resources
    assert {"runtime", "mem_mb", "login_node_jobs"} <= set(args.default_resources)
    # Only jobs on the login node count against profiles/default's login_node_jobs limit, and
    # each group job has its own group_job_slots (one member at a time, as the plugin runs them).
    assert args.set_resource_scopes == {"login_node_jobs": "local", "group_job_slots": "local"}
    # Train jobs: no share of the local GPU counter, nor of the login node's; their GPU,
    # runtime and memory come from the rule (the model's needs), which set-resources would replace.
    assert {name: r.value for name, r in args.set_resources["train"].items()} == {
        "local_gpu_slots": 0,
        "login_node_jobs": 0,
        "group_job_slots": 1,
    }
    assert {name: r.value for name, r in args.set_resources["evaluate_model"].items()} == {
        "login_node_jobs": 0,
        "group_job_slots": 1,
    }
    # No set-threads: it would give a NumPy model (one thread) a torch model's threads.
    assert args.set_threads == {}
    # The cap on runtime and the size of the small jobs' groups.
    assert args.config == ["cluster_max_runtime=1440"]
    assert args.group_components == {"small_jobs": 10}
    # The workflow profile adds only the local limits.
    assert set(args.resources) == {"local_gpu_slots", "login_node_jobs", "group_job_slots"}
    assert args.resources["group_job_slots"] == 1


def test_resources_grow_with_each_attempt(tmp_path):
    """A real run of the slurm profile's resources (local executor): a rule fails until its
    second attempt, which gets twice the memory and runtime; a train rule takes no share of
    the local limits."""
    (tmp_path / "Snakefile").write_text(
        textwrap.dedent(
            """
            rule all:
                input: "train.txt", "other.txt"

            rule train:
                output: "train.txt"
                shell: "echo local_gpu_slots={resources.local_gpu_slots} login_node_jobs={resources.login_node_jobs} > {output}"

            rule other:
                output: "other.txt"
                shell: "test {resources.mem_mb} -gt 2000 || exit 1; echo mem_mb={resources.mem_mb} runtime={resources.runtime} login_node_jobs={resources.login_node_jobs} > {output}"
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
    assert (tmp_path / "train.txt").read_text().split() == ["local_gpu_slots=0", "login_node_jobs=0"]
    assert (tmp_path / "other.txt").read_text().split() == ["mem_mb=4000", "runtime=60", "login_node_jobs=1"]


# The tiny config plus what a cluster user's experiment has: a network that can use a GPU, with
# its own cluster needs (its evaluation's too), one whose runtimes are past the profile's cap,
# and a NumPy model.
CLUSTER_MODELS = {
    "gpu_net": {
        "base": "cnn",
        "device": "auto",
        "cluster": {"runtime": 300, "mem_mb": 12000, "gpu_model": "a100", "evaluate": {"runtime": 45, "mem_mb": 3500}},
    },
    "long_net": {"base": "cnn", "device": "auto", "cluster": {"runtime": 2000, "evaluate": {"runtime": 1500}}},
    "numpy": {"arch": {"type": "numpy_mlp", "hidden": [8]}, "train": {"epochs": 2}},
}


def planned_jobs(output: str) -> list[dict]:
    """Each job of a dry run's plan: rule, model, resources (dict), threads, and whether it is in
    a group (Snakemake indents a group's jobs under "Group job ...")."""
    jobs = []
    for indent, local, rule, block in re.findall(
        r"^( *)(local)?rule (\w+):\n(.*?)(?=\n *\n|\n *(?:local)?rule |\n\[|\Z)", output, flags=re.S | re.M
    ):
        resources = re.search(r"resources: (.*)", block)
        model = re.search(r"model=([^,\s]+)", block)
        threads = re.search(r"threads: (\d+)", block)
        jobs.append(
            {
                "rule": rule,
                "local": bool(local),
                "grouped": bool(indent),
                "model": model.group(1) if model else None,
                "threads": int(threads.group(1)) if threads else 1,
                "resources": dict(item.split("=", 1) for item in resources.group(1).split(", ")) if resources else {},
            }
        )
    return jobs


def test_tiny_workflow_plan_under_the_slurm_profile(tmp_path):
    """Dry run of the real workflow under the cluster profile: only a model that can use a GPU
    asks for one, with its own runtime (capped), memory and GPU type, in a job of its own; CPU
    models' train and evaluate jobs are grouped; figures run on the login node, bounded."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["models"].update(CLUSTER_MODELS)
    config["threads"]["train"] = 2  # a torch model's threads; a NumPy model trains on one
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "all",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path / "work"),
            "--profile",
            str(SLURM.parent),
            "--configfile",
            str(config_path),
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    jobs = planned_jobs(done.stdout)
    train = {job["model"]: job for job in jobs if job["rule"] == "train"}
    evaluate = {job["model"]: job for job in jobs if job["rule"] == "evaluate_model"}
    gpu_models = {"gpu_net", "long_net"}
    assert gpu_models | {"numpy", "mlp", "cnn-s1"} <= train.keys()
    for model, job in train.items():
        resources = job["resources"]
        assert resources["local_gpu_slots"] == "0" and resources["login_node_jobs"] == "0", model
        if model in gpu_models:
            # One GPU (the plugin's `gpu`), a job of its own, the config's train threads.
            assert resources["gpu"] == "1" and not job["grouped"], (model, job)
            assert job["threads"] == config["threads"]["train"], model
        else:
            assert resources["gpu"] == "0" and "gpu_model" not in resources and job["grouped"], (model, job)
            assert evaluate[model]["grouped"], model
    assert train["numpy"]["threads"] == 1
    assert train["gpu_net"]["resources"]["gpu_model"] == "a100"
    assert (train["gpu_net"]["resources"]["runtime"], train["gpu_net"]["resources"]["mem_mb"]) == ("300", "12000")
    assert train["long_net"]["resources"]["runtime"] == "1440"  # 2000 minutes, capped
    assert train["mlp"]["resources"]["runtime"] == "120" and train["mlp"]["resources"]["mem_mb"] == "4000"
    # A GPU model's evaluation asks for no GPU, travels alone and asks for the model's
    # `cluster: evaluate` needs (capped like a training's); the others' are the defaults.
    assert "gpu" not in evaluate["gpu_net"]["resources"] and not evaluate["gpu_net"]["grouped"]
    assert (evaluate["gpu_net"]["resources"]["runtime"], evaluate["gpu_net"]["resources"]["mem_mb"]) == ("45", "3500")
    assert evaluate["long_net"]["resources"]["runtime"] == "1440"  # 1500 minutes, capped
    for model in ("mlp", "cnn-s1"):
        assert (evaluate[model]["resources"]["runtime"], evaluate[model]["resources"]["mem_mb"]) == ("30", "2000")
    # A NumPy model's defaults are its own (what its jobs use: seconds, well under 1 GB).
    assert (train["numpy"]["resources"]["runtime"], train["numpy"]["resources"]["mem_mb"]) == ("30", "1000")
    assert (evaluate["numpy"]["resources"]["runtime"], evaluate["numpy"]["resources"]["mem_mb"]) == ("10", "1000")
    figures = [job for job in jobs if job["rule"].startswith("figure_")]
    # (They run on the login node, `localrules`: tests/workflow/test_slurm.py sees that no sbatch call is theirs.)
    assert figures and all(job["resources"]["login_node_jobs"] == "1" for job in figures)
    assert all("gpu" not in job["resources"] for job in jobs if job["rule"] != "train")
