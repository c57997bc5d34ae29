"""Counting Snakemake's scheduling rounds in a copy of the workflow with a few napping jobs.

The copy is the repository's Snakefile and workflow/ folder (so its `onstart:` hook is the real
one) plus one rule, `nap`, whose jobs each sleep NAP_SECONDS. Snakemake's job rate limit arms a
1-second timer at every round, so a nap that long is sure to see one more round per job while the
limiter is on; without it a round runs only when a job finishes. The count is what is asserted;
the naps only make a limiter that is still on certain to show in it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import ROOT

NAP_SECONDS = 2.5
NAP_RULE = f"""

# Added by tests/helpers/scheduler.py: a job that takes long enough for a 1-second timer to fire.
rule nap:
    output:
        "nap/{{i}}.txt",
    log:
        "nap/{{i}}.log",
    shell:
        "sleep {NAP_SECONDS}; echo {{wildcards.i}} > {{output}}"
"""


def workflow_with_naps(folder: Path) -> Path:
    """A copy of the workflow (Snakefile + workflow/) with the `nap` rule; returns its Snakefile."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "workflow", folder / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    snakefile = folder / "Snakefile"
    snakefile.write_text((ROOT / "Snakefile").read_text() + NAP_RULE)
    return snakefile


def nap_targets(count: int) -> list[str]:
    return [f"nap/{i}.txt" for i in range(count)]


def rounds(output: str) -> int:
    """Scheduling rounds in a `--verbose` run's output: each prints its resources before selecting."""
    return output.count("Resources before job selection")
