"""The report states what the run did (issue 29.10): the data-set section shows a split given
by the data's own file as given, without the `test_fraction` the random split would have used;
the Reproduce line carries the run's real `--cores`, not `--cores all`."""

from __future__ import annotations

import pytest
import yaml

from maskflow.config import load_and_check
from maskflow.report.plan import build_plan

from helpers import ROOT


def plan_of(path):
    config = yaml.safe_load(path.read_text())
    resolved = load_and_check(config, ROOT / "workflow/schemas/config.schema.yaml")
    return {d["name"]: d for d in build_plan(resolved, config, [str(path)], str(ROOT))["datasets"]}


def test_a_split_given_by_a_file_is_shown_without_its_fraction():
    datasets = plan_of(ROOT / "config.yaml")
    # masks: train.csv and test.csv give train and test; val is carved from train at random
    assert datasets["masks"]["split"] == {
        "train": "given by train.csv",
        "test": "given by test.csv",
        "val_fraction": 0.1,
        "seed": 1,
    }
    # digits: one npz, split at random: both fractions apply
    assert datasets["digits"]["split"]["test_fraction"] == 0.5


@pytest.mark.workflow
def test_the_workflow_report_shows_the_runs_cores_and_given_split(tiny_run):
    text = (tiny_run / "results" / "report.html").read_text(encoding="utf-8")
    assert "snakemake --cores 2 --configfile" in text and "--cores all" not in text  # the tests run with --cores 2
    assert "given by test.csv" in text and "test_fraction" not in text
