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

The three patches of Snakemake's internals (the job rate limit of local runs, params records
without pandas, function signatures looked up once) are in maskflow.runtime.snakemake_patches.
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


def prepare(workflow) -> None:
    """Set PATH, the OpenMP wait policy and PYTHONPATH for the jobs of this Snakemake run."""
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    choose_wait_policy(_cores(workflow))
    here = package_dir(workflow)
    if here not in sys.path:
        sys.path.insert(0, here)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
