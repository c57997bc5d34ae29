"""A local run schedules once per finished job, not on Snakemake's 1-second job-rate timer.

Snakemake 9's job rate limit re-arms a 1-second timer at every scheduling round, so the rounds
multiply with the jobs finished (a 100-member sweep: 9,269 rounds for 401 jobs). The workflow's
`onstart:` hook takes the limit off local runs (maskflow.runtime.workflow_env); a cluster run
keeps it (tests/workflow/test_slurm.py counts that side on the real cluster).
Run: pytest -q tests/workflow/test_scheduler_rounds.py
"""

from __future__ import annotations

import subprocess

from helpers import TINY_CONFIG
from helpers.scheduler import nap_targets, rounds, workflow_with_naps
from helpers.snakemake import SNAKEMAKE, job_stats


def test_a_local_run_has_one_round_per_finished_job_plus_the_first(tmp_path):
    snakefile = workflow_with_naps(tmp_path / "repo")
    jobs = 3
    process = subprocess.run(
        [
            *SNAKEMAKE,
            "--snakefile",
            str(snakefile),
            "--directory",
            str(tmp_path / "run"),
            "--configfile",
            str(TINY_CONFIG),
            "--cores",
            "1",
            "--verbose",
            *nap_targets(jobs),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert job_stats(output)["total"] == jobs
    # one round at the start and one when each job but the last finishes (then nothing is left
    # to select); with the limiter on, each 2.5-second nap adds at least two timer rounds
    assert rounds(output) == jobs, output[-4000:]
