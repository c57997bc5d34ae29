"""How idle OpenMP threads wait: spin (libgomp's default) or sleep (`OMP_WAIT_POLICY=PASSIVE`).

torch's CPU kernels run on OpenMP threads, which between two kernels either spin for a while or
sleep until woken. Which is faster depends on whether the job has its cores to itself:

- Each job on its own cores (`--cores` at most the CPUs, or a cluster job in its allocation):
  spinning wins. A sleeping thread is woken by a system call before every kernel, which on the
  project's 2-core VM made a `cnn_baseline` epoch take 1.1 s instead of 0.44 s.
- More cores promised than the machine has (`snakemake --cores 8` on a 2-core laptop): jobs
  share cores, and a spinning thread burns the core another job's thread is waiting for. Two such
  trainings at once took 3.3 s an epoch each with spinning, 1.0 s with passive waits.

The workflow (common.smk, through maskflow.runtime.workflow_env.prepare) calls `choose_wait_policy` once with the cores
Snakemake was given; jobs inherit the environment. A variable the user set is never changed.
One that maskflow set is decided again by the next Snakemake process that reads it: sbatch
passes the login node's environment to a cluster job, whose Snakemake has its own cores.
"""

from __future__ import annotations

import os

PASSIVE = "PASSIVE"
# Marks an OMP_WAIT_POLICY that this module set, as opposed to one the user chose.
DECIDED_BY_MASKFLOW = "MASKFLOW_OMP_WAIT_POLICY"


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask: a cluster job's allocation, a taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def oversubscribed(cores: int | None, cpus: int) -> bool:
    """True when Snakemake may run jobs with more threads, together, than there are CPUs."""
    return cores is not None and cores > cpus


def choose_wait_policy(cores: int | None, environ=os.environ, cpus: int | None = None) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE in `environ` when jobs will share cores; returns the policy
    now in effect (None: libgomp's default, spin then sleep). Must run before torch is imported
    in the processes that read it, which is why the workflow sets it for its jobs."""
    ours = environ.pop(DECIDED_BY_MASKFLOW, None)
    if ours is not None and environ.get("OMP_WAIT_POLICY") == ours:
        del environ["OMP_WAIT_POLICY"]  # inherited from another Snakemake process: decide anew
    if "OMP_WAIT_POLICY" in environ:
        return environ["OMP_WAIT_POLICY"]
    if oversubscribed(cores, available_cpus() if cpus is None else cpus):
        environ["OMP_WAIT_POLICY"] = environ[DECIDED_BY_MASKFLOW] = PASSIVE
        return PASSIVE
    return None
