"""Planning a sweep grows linearly with its members, with a small constant (issue 26): counted,
never timed. Real `snakemake -n all` runs on sweeps of the NumPy DNN on digits (bench/sweep_overhead.py's
config) count the jobs and Snakemake's `inspect.signature` lookups, which maskflow.runtime.snakemake_patches
makes once per function instead of several times per job; config resolution is counted in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from helpers import ROOT
from helpers.snakemake import job_stats

sys.path.insert(0, str(ROOT))
import maskflow.config as config_module  # noqa: E402
from maskflow.runtime.snakemake_patches import cache_function_signatures  # noqa: E402

from bench.sweep_overhead import sweep_config  # noqa: E402

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"

# `python -m snakemake ARGS`, counting inspect.signature calls, written as JSON at exit.
COUNTING_SIGNATURES = """
import atexit, inspect, json, runpy, sys
report, counts, original = sys.argv.pop(1), {"signature": 0}, inspect.signature
def counted(*args, **kwargs):
    counts["signature"] += 1
    return original(*args, **kwargs)
inspect.signature = counted
atexit.register(lambda: open(report, "w").write(json.dumps(counts)))
sys.argv[0] = "snakemake"
runpy.run_module("snakemake", run_name="__main__")
"""


def planned(tmp_path, members: int) -> tuple[dict[str, int], int]:
    """(jobs per rule, inspect.signature calls) of `snakemake -n all` on a sweep of `members`."""
    folder = tmp_path / str(members)
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(sweep_config(members, 2)))
    command = [sys.executable, "-c", COUNTING_SIGNATURES, str(folder / "counts.json")]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    process = subprocess.run(
        [*command, "-n", "all", "--cores", "2", "--snakefile", str(ROOT / "Snakefile")]
        + ["--directory", str(folder / "run"), "--configfile", str(folder / "config.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return job_stats(process.stdout + process.stderr), json.loads((folder / "counts.json").read_text())["signature"]


@pytest.mark.workflow
def test_a_member_adds_two_jobs_and_no_signature_lookups(tmp_path):
    jobs_10, signatures_10 = planned(tmp_path, 10)
    jobs_30, signatures_30 = planned(tmp_path, 30)
    assert jobs_10["track"] == 1  # the base model's run record; the members' are the history job's
    growth = {rule: jobs_30.get(rule, 0) - jobs_10.get(rule, 0) for rule in jobs_30}
    # train and evaluate per member; the run record is built by the dataset's history job, figures
    # only for the members a sweep lists (none here)
    assert {rule: n for rule, n in growth.items() if n} == {"train": 20, "evaluate_model": 20, "total": 40}
    # Snakemake looks up each input/params/resources function's signature once, whatever the
    # number of jobs (without maskflow.runtime.snakemake_patches: about 29 more per member)
    assert signatures_30 == signatures_10


def test_the_signature_cache_looks_each_function_up_once(monkeypatch):
    import inspect

    import snakemake.common
    import snakemake.rules

    assert cache_function_signatures()
    calls = []
    original = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda func: calls.append(func) or original(func))

    def input_function(wildcards, input):
        return []

    for _ in range(5):
        assert list(snakemake.rules.get_function_params(input_function)) == ["wildcards", "input"]
    assert list(snakemake.common.get_function_params(lambda wildcards: 1)) == ["wildcards"]
    assert calls.count(input_function) == 1 and len(calls) == 2
    assert cache_function_signatures()  # a second install keeps the first


def test_resolving_a_sweep_copies_no_table_per_member(monkeypatch):
    """Each member is resolved through its base in the one table of entries: before issue 26 each
    member got a fresh copy of the whole table (10,000 members: 10^8 entries copied)."""
    tables, original = [], config_module._resolve_base

    def recording(name, models, seen=()):
        tables.append(models)
        return original(name, models, seen)

    monkeypatch.setattr(config_module, "_resolve_base", recording)
    resolved = config_module.load_and_check(yaml.safe_load(yaml.safe_dump(sweep_config(50, 2))), SCHEMA)
    assert len(resolved["models"]) == 51
    # two tables whatever the sweep's size: the resolution's table of entries, and the config's own
    # models that check_sweeps reads once per sweep (a copy per member made 51 here)
    assert len(tables) >= 51 and len({id(table) for table in tables}) <= 2
