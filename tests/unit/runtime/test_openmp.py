"""The OpenMP wait policy the workflow gives its jobs: passive waits only when Snakemake was
promised more cores than the machine has (maskflow.runtime.openmp)."""

from __future__ import annotations

import os

import pytest

from maskflow.runtime.openmp import DECIDED_BY_MASKFLOW, PASSIVE, available_cpus, choose_wait_policy

from helpers.snakemake import copy_tree, run_snakemake

TRAIN_LOG = "results/masks/logs/train/mlp.log"
CHECKPOINT = "results/masks/models/mlp/checkpoint.pt"


@pytest.mark.parametrize("cores", [9, 64])
def test_jobs_sharing_cores_wait_passively(cores):
    environ: dict[str, str] = {}
    assert choose_wait_policy(cores, environ, cpus=8) == PASSIVE
    assert environ == {"OMP_WAIT_POLICY": PASSIVE, DECIDED_BY_MASKFLOW: PASSIVE}


@pytest.mark.parametrize("cores", [None, 1, 8])
def test_jobs_with_a_core_each_keep_the_spinning_default(cores):
    environ: dict[str, str] = {}
    assert choose_wait_policy(cores, environ, cpus=8) is None
    assert environ == {}


def test_a_policy_the_user_set_is_kept():
    environ = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert choose_wait_policy(64, environ, cpus=2) == "ACTIVE"
    assert environ == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_a_policy_maskflow_set_elsewhere_is_decided_again():
    # A login node given --cores 8 on 4 CPUs chose passive waits; sbatch handed its environment
    # to a cluster job whose Snakemake has 8 cores of its own.
    environ = {}
    choose_wait_policy(8, environ, cpus=4)
    assert choose_wait_policy(8, environ, cpus=8) is None
    assert environ == {}
    # The user's own choice, even the same value, is not ours to undo.
    environ = {"OMP_WAIT_POLICY": PASSIVE}
    assert choose_wait_policy(8, environ, cpus=8) == PASSIVE
    assert environ == {"OMP_WAIT_POLICY": PASSIVE}


def test_available_cpus_counts_the_cpus_this_process_may_use_not_the_machine_s():
    # A taskset or a cluster job's allocation narrows the affinity mask, not os.cpu_count().
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
        assert available_cpus() == 1
    finally:
        os.sched_setaffinity(0, allowed)
    assert available_cpus() == len(allowed)


def train_log_after_forced_training(workdir, cores: int) -> str:
    run_snakemake(workdir, "--cores", str(cores), "--force", CHECKPOINT)
    return (workdir / TRAIN_LOG).read_text()


def test_the_workflow_sets_passive_waits_only_when_promised_more_cores_than_there_are(tiny_run, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv(DECIDED_BY_MASKFLOW, raising=False)
    workdir = copy_tree(tiny_run, tmp_path / "run")
    # --cores overrides run_snakemake's own (the last one given wins).
    shared = train_log_after_forced_training(workdir, 4 * available_cpus())
    assert "passive OpenMP waits" in shared
    own = train_log_after_forced_training(workdir, available_cpus())
    assert "device cpu (" in own and "passive OpenMP waits" not in own
