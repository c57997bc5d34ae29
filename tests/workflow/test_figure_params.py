"""Each figure job receives only the `figures:` settings its family reads (issue 29.6): editing
`figures: {misclassified: 10}` redraws the misclassified figures of that model (and of the models
based on it), and nothing else, except the report that embeds them. Checked with a real
Snakemake dry run on a finished tiny run: the only jobs planned for changed params are those."""

from __future__ import annotations

import re

import pytest

from helpers import TINY_CONFIG
from helpers.snakemake import copy_tree, job_stats, run_snakemake

BLOCK = re.compile(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S|\Z)", re.M | re.S)


def planned(output: str) -> list[tuple[str, str, str]]:
    """(rule, wildcards, reason) of every job a dry run lists."""
    jobs = []
    for rule, body in BLOCK.findall(output):
        wildcards = re.search(r"wildcards: (.*)", body)
        reason = re.search(r"reason: (.*)", body)
        jobs.append((rule, wildcards.group(1) if wildcards else "", reason.group(1) if reason else ""))
    return jobs


@pytest.mark.workflow
def test_editing_one_figure_option_replans_only_the_figures_that_read_it(tiny_run, tmp_path):
    workdir = copy_tree(tiny_run, tmp_path / "run")
    edit = tmp_path / "misclassified.yaml"
    edit.write_text("models:\n  cnn:\n    figures: {misclassified: 10}\n")
    # the tiny config layered with the edit, as `--configfile tiny.yaml edit.yaml` layers them
    process = run_snakemake(workdir, "-n", "all", "--configfile", str(TINY_CONFIG), str(edit))
    output = process.stdout + process.stderr
    params_changed = sorted(
        (rule, wildcards)
        for rule, wildcards, reason in planned(output)
        if reason.startswith("Params have changed")
        if rule != "report_plan"  # the report's plan records the command line, which did change
    )
    assert params_changed == [
        ("figure_misclassified", f"dataset=masks, model={model}, split=test")
        for model in ("cnn-s1", "cnn-s2", "cnn_aug")
    ], output[-4000:]
    # downstream, only what embeds or copies the redrawn figures: the report, and the run history's
    # record of those models (its figures are artifacts; the training id is already logged, so no
    # run is added: tests/workflow/test_tracking.py)
    downstream = {"figure_misclassified", "report_plan", "report", "all", "total", "track", "track_history"}
    assert set(job_stats(output)) <= downstream
    track = [wildcards for rule, wildcards, _ in planned(output) if rule == "track"]
    assert sorted(track) == [f"dataset=masks, model={model}" for model in ("cnn-s1", "cnn-s2", "cnn_aug")]
