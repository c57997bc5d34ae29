"""The verdicts bench/ prints on the README's goals for Snakemake's own overhead.

bench/workflow_overhead.py judges the median of several runs against each goal in GOALS, and
bench/run_all.py turns it into a table row; the goals must be the ones the README states. No
test here times anything: the verdict logic is fed seconds.

Run: pytest -q tests/bench/test_bench_goals.py
"""

from __future__ import annotations

import importlib
import re
import sys

import pytest

from helpers import ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
overhead = importlib.import_module("bench.workflow_overhead")
run_all = importlib.import_module("bench.run_all")


def test_a_goal_is_met_when_the_median_is_under_it():
    # one slow run does not miss the goal, one fast run does not meet it: the median decides
    assert overhead.verdict([1.2, 1.3, 9.0], 1.5)["verdict"] == "met"
    assert overhead.verdict([0.2, 1.6, 1.7], 1.5)["verdict"] == "missed"
    assert overhead.verdict([1.4, 1.6], 1.5) == {
        "runs": 2,
        "median_s": 1.5,
        "min_s": 1.4,
        "max_s": 1.6,
        "goal_s": 1.5,
        "verdict": "missed",  # under the goal, not at it
    }
    with pytest.raises(ValueError):
        overhead.verdict([], 1.5)


def test_the_verdict_lines_say_median_of_how_many_runs():
    judged = overhead.verdict([4.7, 4.9, 5.2, 4.8, 7.0], 5.0)
    assert overhead.verdict_line("plan_500_models", judged) == (
        "`snakemake -n all` from nothing, 500 models (tiny config + a sweep): median of 5 runs 4.90 s "
        "(4.70-7.00); goal < 5 s: met"
    )
    assert overhead.verdict_line("noop_dry_run_default", None) == (
        "no-op `snakemake -n all`, default config, built tree: not measured; goal < 1.5 s"
    )
    row = run_all.goal_row("noop_dry_run_default", overhead.verdict([1.6, 1.7, 1.4], 1.5))
    assert row.maskflow == "median of 3 runs 1.60 s (1.40-1.70)" and row.ratio == "goal missed"


def test_the_goals_are_the_readmes():
    readme = (ROOT / "docs" / "performance.md").read_text()
    noop = re.search(r"\| no-op `snakemake -n all`, default config, built tree .*goal < ([0-9.]+) s", readme)
    plan = re.search(r"\| `snakemake -n all` from nothing, .*500 models.*goal < ([0-9.]+) s for 500", readme)
    assert noop and plan, "docs/performance.md's table no longer states the two goals"
    assert overhead.GOALS["noop_dry_run_default"][0] == float(noop.group(1))
    assert overhead.GOALS["plan_500_models"][0] == float(plan.group(1))


def test_run_all_measures_the_noop_goal_on_the_default_tree_end_to_end_built(tmp_path):
    order = list(run_all.BENCHMARKS)
    assert order.index("end_to_end") < order.index("workflow_overhead")
    assert order.index("incremental") < order.index("workflow_overhead")
    tiny = tmp_path / "tiny"
    built = run_all.shared_tiny_args("end_to_end", tiny, {})
    assert built[0] == "--workdir"
    args = run_all.shared_tiny_args("workflow_overhead", tiny, {"incremental": {}, "end_to_end": {}})
    assert args[args.index("--default-built") + 1] == built[1]
    # under --quick (no end_to_end) the goal is not measured, and the row says so
    assert "--default-built" not in run_all.shared_tiny_args("workflow_overhead", tiny, {"incremental": {}})


@pytest.mark.workflow
def test_a_noop_dry_run_that_plans_jobs_is_refused(tmp_path):
    """The no-op goal is timed only on a tree that is really built: an empty folder plans jobs."""
    with pytest.raises(RuntimeError, match="is not built with config.yaml"):
        overhead.noop_dry_runs(tmp_path, ROOT / "config.yaml", repeats=1)
