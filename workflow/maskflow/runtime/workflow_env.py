"""The process environment a Snakemake run of maskflow needs, set in one call from common.smk.

    sys.path.insert(0, os.path.join(workflow.basedir, "workflow"))   # to find this package
    from maskflow.runtime.workflow_env import prepare
    prepare(workflow)

- PATH: the Python environment that runs Snakemake comes first, so jobs find its `python` even
  when the venv is not activated (`.venv/bin/snakemake ...`). Jobs on a cluster inherit it; a
  conda env activated for a job still comes before it.
- OpenMP: idle threads sleep (passive waits) only when jobs will share cores (--cores 8 on a
  2-core laptop); with a core each, spinning is up to 2.5x faster (maskflow.runtime.openmp).
- PYTHONPATH: rules call the package as `python -m maskflow ...` with workflow/ on PYTHONPATH,
  so the same command works in the venv that runs Snakemake, in the per-rule conda env and on
  cluster nodes.
- Job rate limit: none for local runs (`unthrottle_local_scheduler`, from the `onstart:` hook in
  common.smk); a cluster run keeps it.
- Params records without pandas (`params_without_pandas`, from common.smk): Snakemake imports
  pandas to compare every job's params with their record; maskflow's params never are pandas.
"""

from __future__ import annotations

import os
import sys

from maskflow.runtime.openmp import choose_wait_policy


def package_dir(workflow) -> str:
    """The folder that holds the maskflow package (workflow/ of the repository)."""
    return os.path.join(workflow.basedir, "workflow")


def _cores(workflow) -> int | None:
    from snakemake.exceptions import WorkflowError

    try:
        return workflow.cores
    except WorkflowError:  # no --cores (a cluster executor with --jobs): jobs run elsewhere
        return None


def unthrottle_local_scheduler(workflow) -> bool:
    """Drop Snakemake's job rate limit (`--max-jobs-per-timespan`, 100/1s by default) from a
    local run's scheduler; True when dropped. Called from the workflow's `onstart:` hook, the
    first moment the scheduler exists and the last before it schedules anything.

    The limit is for cluster submission. In Snakemake 9 (9.27 at least) it also arms a 1-second
    timer at every scheduling round, and each timer's round arms the next: every finished job
    starts one more chain, so after N jobs the scheduler runs about N rounds a second, each one
    re-reading the input sizes of every ready job and solving its job selection again. In a
    100-member sweep that was 9,269 rounds for 401 jobs, most of Snakemake's own CPU
    (bench/README.md). Without a limiter, Snakemake's API default, a round runs when a job
    finishes. A cluster run (`--profile profiles/slurm`) keeps its limit."""
    scheduler = getattr(workflow, "scheduler", None)
    if scheduler is None or not getattr(workflow, "local_exec", False):
        return False
    if getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None
    return True


def params_without_pandas() -> bool:
    """Have Snakemake serialise job params for its `params` rerun trigger without importing pandas;
    True when done. Called from common.smk, before Snakemake checks any output.

    Snakemake 9 (9.27 at least) imports pandas whenever it is installed, to hash params that are
    DataFrames, Series or Indexes, and serialises every other value with its builtin serialiser.
    maskflow's params are strings, numbers and lists, so the records and the comparison are the
    same either way; only the import goes, 0.45 s of every Snakemake start that checks a built
    tree (a no-op `snakemake -n all`: 1.8 s before). A renamed internal leaves Snakemake as it
    was (False), and tests/test_targets.py fails."""
    try:
        from snakemake.persistence import PersistenceBase
    except ImportError:
        return False
    if not hasattr(PersistenceBase, "_serialize_param_builtin") or not isinstance(
        getattr(PersistenceBase, "_serialize_param", None), property
    ):
        return False
    PersistenceBase._serialize_param = property(lambda self: self._serialize_param_builtin)
    return True


def prepare(workflow) -> None:
    """Set PATH, the OpenMP wait policy and PYTHONPATH for the jobs of this Snakemake run."""
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    choose_wait_policy(_cores(workflow))
    here = package_dir(workflow)
    if here not in sys.path:
        sys.path.insert(0, here)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
