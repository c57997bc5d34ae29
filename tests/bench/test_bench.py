"""bench/'s parsers and figures, tested on what Snakemake 9 really prints.

The benchmarks count jobs from Snakemake's log (`job_counts`: the "Job stats" table;
`jobs_run`: the `rule x:` / `localrule x:` blocks and their wildcards) and read its benchmark
.tsv files. A Snakemake release that prints these differently would make them report wrong
figures without failing, so the logs here come from real runs of the tiny config, captured the
way the benchmarks capture them (bench.workflow_overhead.snakemake/timed: stdout and stderr
together, jobs' own output included), and the parsed figures are checked against what Snakemake
itself says ran: its "Finished jobid: N (Rule: x)" lines, its "N of N steps" line, its table's
`total` row, the files it wrote, and the models the config resolves to.

bench/ is a package at the repository root; it is imported as bench/run_all.py imports it.
"""

from __future__ import annotations

import csv
import importlib
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import yaml

from maskflow.config import resolve_models

from helpers import ROOT, TINY_CONFIG

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
overhead = importlib.import_module("bench.workflow_overhead")
incremental = importlib.import_module("bench.incremental")
end_to_end = importlib.import_module("bench.end_to_end")
data_scaling = importlib.import_module("bench.data_scaling")
run_all = importlib.import_module("bench.run_all")

# Built from nothing, one trained model needs the data stage of its dataset and its train job.
TARGET = "results/masks/models/mlp/checkpoint.pt"
EXPECTED = Counter({"fetch": 1, "validate": 1, "split": 1, "cache": 1, "class_stats": 1, "train": 1})
TINY_MODELS = set(resolve_models(yaml.safe_load(TINY_CONFIG.read_text())))


def finished_rules(log: str) -> Counter:
    """Jobs per rule as Snakemake reports them done ("Finished jobid: 3 (Rule: split)")."""
    return Counter(re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", log, re.MULTILINE))


def table_total(log: str) -> int:
    """The `total` row of the first "Job stats" table."""
    return int(re.search(r"^total\s+(\d+)$", log, re.MULTILINE).group(1))


class Run(NamedTuple):
    wall: float
    cpu: float
    log: str


class Runs(NamedTuple):
    workdir: Path
    planned: str  # `snakemake -n TARGET` in an empty folder
    built: Run  # `snakemake TARGET` there
    noop: Run  # the same again: nothing to do
    rest: str  # `snakemake -n all` after that


CACHED = (overhead.slurm_probe_seconds, overhead.snakemake_env)  # as imported: a test monkeypatches them


def clear_env_caches() -> None:
    """slurm_probe_seconds and snakemake_env keep their first answer (functools.cache)."""
    for function in CACHED:
        function.cache_clear()


@pytest.fixture
def fresh_env_caches():
    clear_env_caches()
    yield
    clear_env_caches()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, no_slurm_bin) -> Runs:
    """Real Snakemake runs of the tiny config through bench's own runner (about 8 s in all)."""
    workdir = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as patch:  # module scope: set up before the autouse PATH fixture
        patch.setenv("PATH", f"{no_slurm_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        clear_env_caches()
        try:
            planned = overhead.snakemake(workdir, TINY_CONFIG, "-n", TARGET).stdout
            built = Run(*overhead.timed(workdir, TINY_CONFIG, TARGET))
            noop = Run(*overhead.timed(workdir, TINY_CONFIG, TARGET))
            rest = overhead.snakemake(workdir, TINY_CONFIG, "-n", "all").stdout
        finally:
            clear_env_caches()
    return Runs(workdir, planned, built, noop, rest)


# ---------------------------------------------------------------- job_counts, jobs_run on real logs


@pytest.mark.workflow
def test_job_counts_of_a_real_run_are_the_jobs_snakemake_ran(runs):
    log = runs.built.log
    assert finished_rules(log) == EXPECTED, log[-3000:]  # the run did what this test assumes
    assert overhead.job_counts(log) == EXPECTED
    assert "total" not in overhead.job_counts(log)
    assert sum(overhead.job_counts(log).values()) == table_total(log) == len(EXPECTED)
    assert re.search(rf"^{len(EXPECTED)} of {len(EXPECTED)} steps \(100%\) done$", log, re.MULTILINE)


@pytest.mark.workflow
def test_jobs_run_gives_each_job_of_a_real_run_with_its_wildcards(runs):
    log = runs.built.log
    assert re.search(r"^localrule fetch:$", log, re.MULTILINE)  # a real local run says `localrule`
    data_stage = [(rule, {"dataset": "masks"}) for rule in ("fetch", "validate", "split", "cache", "class_stats")]
    # The jobs depend on one another in a chain, so they are announced in this order.
    assert overhead.jobs_run(log) == [*data_stage, ("train", {"dataset": "masks", "model": "mlp"})]


@pytest.mark.workflow
def test_a_dry_run_parses_as_the_jobs_it_plans(runs):
    log = runs.planned
    assert re.search(r"^rule fetch:$", log, re.MULTILINE)  # a dry run says `rule`
    assert overhead.job_counts(log) == EXPECTED
    assert overhead.jobs_run(log) == overhead.jobs_run(runs.built.log)


@pytest.mark.workflow
def test_a_second_run_with_nothing_to_do_parses_as_zero_jobs(runs):
    log = runs.noop.log
    assert "Nothing to be done" in log and "Job stats" not in log, log[-3000:]
    assert overhead.job_counts(log) == Counter()
    assert overhead.jobs_run(log) == []


@pytest.mark.workflow
def test_the_rest_of_the_plan_parses_rule_by_rule_with_two_wildcards(runs):
    """`snakemake -n all` once mlp is trained: tens of jobs of many rules, most with a model."""
    counts = overhead.job_counts(runs.rest)
    jobs = overhead.jobs_run(runs.rest)
    assert sum(counts.values()) == table_total(runs.rest) == len(jobs) > 40
    assert Counter(rule for rule, _ in jobs) == counts
    assert not set(counts) & (set(EXPECTED) - {"train"})  # the data stage is built
    trained = sorted(wildcards["model"] for rule, wildcards in jobs if rule == "train")
    assert trained == sorted(TINY_MODELS - {"mlp"})
    assert {tuple(wildcards) for rule, wildcards in jobs if rule == "train"} == {("dataset", "model")}
    assert ("all", {}) in jobs and ("stats_figure", {"dataset": "masks", "figure": "examples"}) in jobs


def test_job_counts_and_jobs_run_on_small_logs():
    assert overhead.job_counts("") == Counter() and overhead.jobs_run("") == []
    nothing = "Building DAG of jobs...\nNothing to be done (all requested files are present and up to date).\n"
    assert overhead.job_counts(nothing) == Counter() and overhead.jobs_run(nothing) == []
    # The table as the last thing in the text, without a final newline.
    table = "Job stats:\njob        count\n-------  -------\ncompare        2\nall            1\ntotal          3"
    assert overhead.job_counts(table) == Counter({"compare": 2, "all": 1})
    # Only the first table counts (a dry run prints a second one after the jobs).
    assert overhead.job_counts(table + "\n\n" + table.replace("2", "7")) == Counter({"compare": 2, "all": 1})
    # A table whose layout no longer parses is an error, not "no jobs".
    with pytest.raises(ValueError, match="Job stats"):
        overhead.job_counts("Job stats:\njob | count\n--- | ---\ncompare | 2\n")
    # A job without wildcards after one with them does not take theirs.
    blocks = (
        "localrule compare:\n    jobid: 1\n    wildcards: dataset=masks\nShell command: python -m maskflow compare\n"
        "Finished jobid: 1 (Rule: compare)\n\nlocalrule all:\n    input: results/masks/compare/summary.csv\n    jobid: 0\n"
    )
    assert overhead.jobs_run(blocks) == [("compare", {"dataset": "masks"}), ("all", {})]


# ---------------------------------------------------------------- timed, slurm_probe_seconds, snakemake_env


@pytest.mark.workflow
def test_timed_counts_the_cpu_time_of_snakemakes_jobs(runs):
    tsv = runs.workdir / "results/masks/benchmarks/train/mlp.tsv"
    with tsv.open() as file:
        job = list(csv.DictReader(file, delimiter="\t"))[-1]
    assert 0 < float(job["s"]) < runs.built.wall
    # RUSAGE_CHILDREN: the train job (a grandchild) is counted, not only the Snakemake process.
    assert runs.built.cpu >= float(job["cpu_time"]) > 0
    assert runs.built.cpu > runs.noop.cpu > 0 and runs.noop.wall > 0


def test_slurm_probe_seconds_times_scontrol_or_says_there_is_none(tmp_path, monkeypatch, fresh_env_caches):
    path = os.environ["PATH"]
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert overhead.slurm_probe_seconds() is None

    clear_env_caches()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "args"}\n')
    (fake / "scontrol").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{path}")
    probe = overhead.slurm_probe_seconds()
    assert isinstance(probe, float) and probe > 0
    assert overhead.slurm_probe_seconds() == probe  # probed once a process: every later start reuses it
    # the probe ran this scontrol, once, as the plugin runs it
    assert (tmp_path / "args").read_text().splitlines() == ["show config"]


def test_snakemake_env_puts_a_failing_scontrol_first_only_when_the_probe_is_slow(monkeypatch, fresh_env_caches):
    monkeypatch.setattr(overhead, "slurm_probe_seconds", lambda: 0.01)
    fast = overhead.snakemake_env()["PATH"].split(os.pathsep)
    assert fast[0] == os.path.dirname(sys.executable)

    clear_env_caches()
    monkeypatch.setattr(overhead, "slurm_probe_seconds", lambda: 9.5)
    slow = overhead.snakemake_env()["PATH"].split(os.pathsep)
    assert slow[1] == os.path.dirname(sys.executable)
    shim = Path(slow[0]) / "scontrol"
    assert os.access(shim, os.X_OK) and shim.read_text() == "#!/bin/sh\nexit 1\n"


# ---------------------------------------------------------------- dry_run_seconds, config_with_models


@pytest.mark.workflow
def test_dry_run_seconds_reports_the_jobs_snakemake_plans(tmp_path, monkeypatch):
    config = overhead.config_with_models(10)
    assert len(resolve_models(config)) == 10
    with pytest.raises(ValueError):
        overhead.config_with_models(len(TINY_MODELS) - 1)
    logs = []

    def keep_log(*args, **kwargs):
        result = timed(*args, **kwargs)
        logs.append(result[2])
        return result

    timed = overhead.timed
    monkeypatch.setattr(overhead, "timed", keep_log)
    wall, cpu, jobs = overhead.dry_run_seconds(config, tmp_path, repeats=1)
    assert wall > 0 and cpu > 0
    assert jobs == table_total(logs[-1])
    assert overhead.job_counts(logs[-1])["train"] == 10  # one train job per configured model
    assert not (tmp_path / "results").exists()  # planned, not run


# ---------------------------------------------------------------- incremental: what should rerun, what did


def test_changed_models_follow_inheritance_and_ensembles():
    base = yaml.safe_load(TINY_CONFIG.read_text())
    lr = yaml.safe_load(TINY_CONFIG.read_text())
    lr["models"]["cnn"]["train"]["lr"] *= 2
    figure = yaml.safe_load(TINY_CONFIG.read_text())
    figure["models"]["cnn_aug"]["figures"] = {"misclassified": 16}
    plans = {name: incremental.resolved(config) for name, config in (("base", base), ("lr", lr), ("figure", figure))}

    retrain = incremental.changed_models(plans["base"], plans["lr"], None)
    assert retrain == {"cnn-s1", "cnn-s2", "cnn_aug"}  # cnn's seeds, and cnn_aug that inherits its lr
    assert incremental.with_dependants(retrain, plans["lr"]) == retrain | {"ens"}
    assert incremental.changed_models(plans["base"], plans["figure"], None) == set()  # figures: no training
    assert incremental.changed_models(plans["base"], plans["figure"], ("figures",)) == {"cnn_aug"}


@pytest.mark.workflow
def test_unexpected_jobs_on_a_real_plan(runs):
    jobs = overhead.jobs_run(runs.rest)
    every_model = TINY_MODELS | {"ens"}
    # Every job with a model is allowed; of those without, only stats_figure is not an aggregate.
    odd = incremental.unexpected_jobs(jobs, every_model, incremental.AGGREGATES)
    figures = sorted({w["figure"] for rule, w in jobs if rule == "stats_figure"})
    assert sorted(odd) == [f"stats_figure[dataset=masks, figure={name}]" for name in figures] and figures

    odd = incremental.unexpected_jobs(jobs, {"cnn_aug"}, incremental.AGGREGATES)
    assert "train[dataset=masks, model=cnn-s1]" in odd and "evaluate_ensemble[dataset=masks, model=ens]" in odd
    assert not [job for job in odd if "model=cnn_aug" in job or job.split("[")[0] in incremental.AGGREGATES]
    assert len(odd) == len(jobs) - sum(
        1 for rule, w in jobs if w.get("model") == "cnn_aug" or ("model" not in w and rule in incremental.AGGREGATES)
    )


# ---------------------------------------------------------------- end_to_end: Snakemake's benchmark files


@pytest.mark.workflow
def test_training_costs_reads_the_train_jobs_benchmark_file_and_history(runs):
    costs = end_to_end.training_costs(runs.workdir)
    with (runs.workdir / "results/masks/benchmarks/train/mlp.tsv").open() as file:
        job = list(csv.DictReader(file, delimiter="\t"))[-1]
    with (runs.workdir / "results/masks/models/mlp/history.csv").open() as file:
        history = list(csv.DictReader(file))
    epochs = yaml.safe_load(TINY_CONFIG.read_text())["models"]["mlp"]["train"]["epochs"]
    assert costs.to_dict("records") == [
        {
            "dataset": "masks",
            "model": "mlp",
            "epochs": epochs,
            "job_s": float(job["s"]),
            "epochs_s": pytest.approx(sum(float(row["seconds"]) for row in history)),
            "max_rss_mb": float(job["max_rss"]),
        }
    ]
    assert len(history) == epochs
    row = costs.iloc[0]
    assert 0 < row["epochs_s"] < row["job_s"]  # the job also starts Python and imports torch
    assert row["max_rss_mb"] > 50  # MB: torch alone takes more

    empty = end_to_end.training_costs(runs.workdir / "nothing-here")
    assert empty.empty and list(empty.columns) == list(costs.columns)


# ---------------------------------------------------------------- data_scaling: /proc and the child's figures


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc (Linux)")
def test_status_kb_and_peak_sampler_read_memory_in_kb():
    assert data_scaling.status_kb("NoSuchField") is None
    size_kb = 64 * 1024
    before = data_scaling.status_kb("VmRSS")
    sampler = data_scaling.PeakSampler("RssAnon", interval=0.002)
    anon_before = sampler.peak
    sampler.start()
    block = np.ones(size_kb * 1024, dtype=np.uint8)  # 64 MiB, every page written
    during = data_scaling.status_kb("VmRSS")
    time.sleep(0.05)
    del block
    peak = sampler.stop()
    assert during - before >= 0.9 * size_kb
    assert data_scaling.status_kb("VmHWM") - before >= 0.9 * size_kb  # the kernel's RSS counts are approximate
    assert peak - anon_before >= 0.9 * size_kb


@pytest.mark.workflow
def test_measure_returns_the_child_processes_figures(runs):
    annotations = runs.workdir / "results/masks/data/annotations.csv"
    with annotations.open() as file:
        rows = sum(1 for _ in csv.DictReader(file))
    data_scaling.OUT.mkdir(parents=True, exist_ok=True)  # as main() does: the child works in bench/out (git-ignored)
    run = data_scaling.measure(runs.workdir / "resources/masks/raw", annotations, threads=1, repeats=1)
    assert run["crops"] == rows > 0
    assert run["wall_s"] > 0 and run["cpu_s"] > 0
    assert run["peak_rss_mb"] >= run["rss_before_mb"] > 0


# ---------------------------------------------------------------- run_all: figures -> table rows


def test_times_better_and_growth_words():
    assert run_all.times_better(10.0, 2.0) == "5.0x faster"
    assert run_all.times_better(3.0, 2.0) == "1.50x faster"
    assert run_all.times_better(2.0, 2.05) == "0.98x (same)"
    assert run_all.times_better(1.0, 2.0) == "0.50x (slower)"
    assert run_all.times_better(232, 20, "fewer") == "11.6x fewer"
    assert run_all.times_better(1.0, 0.0) == "n/a"
    assert run_all.growth(104, 100, "flat") == "1.04x (flat)"
    assert run_all.growth(125, 100, "flat") == "1.25x (flat)"
    assert run_all.growth(310, 100, "flat") == "3.10x (grows)"
    assert run_all.growth(50, 100, "flat") == "0.50x (shrinks)"
    assert run_all.growth(0, 0, "flat") == "n/a"  # no figure (no /proc): no division by zero


def test_rows_find_their_figures_by_key():
    overhead_rows = run_all.workflow_overhead_rows(
        {
            **{f"dry_run_default_{k}": v for k, v in (("s", 1.234), ("cpu_s", 1.1), ("jobs", 232))},
            **{f"dry_run_500_models_{k}": v for k, v in (("s", 9.87), ("cpu_s", 9.5), ("jobs", 4100))},
            "plan_500_models": overhead.verdict([9.87, 10.5, 11.0], 5.0),
            "slurm_probe_s": None,
        }
    )
    assert [row.measured for row in overhead_rows] == [
        "`snakemake -n all` (plan only), default config, 232 jobs, best run",
        "`snakemake -n all` (plan only), 500 models (tiny config + a sweep), 4100 jobs, best run",
        "`snakemake -n all` from nothing, 500 models (tiny config + a sweep), goal < 5 s",
        "no-op `snakemake -n all`, default config, built tree, goal < 1.5 s",
    ]
    assert overhead_rows[1].maskflow == "9.87 s (9.50 CPU s)"
    assert overhead_rows[2].maskflow == "median of 3 runs 10.50 s (9.87-11.00)"
    assert overhead_rows[2].ratio == "goal missed"
    assert (overhead_rows[3].maskflow, overhead_rows[3].ratio) == ("not measured", "no verdict")

    epoch = {
        "maskflow_epoch_s": 1.0,
        "maskflow_pipeline_s": 0.5,
        "maskflow_images_per_s": 600.0,
        "floor_epoch_s": 0.8,
    }
    # the epoch is fastest with 2 workers, the input batches alone with 0
    for n, seconds, pipeline in ((0, 3.0, 1.0), (2, 2.0, 1.5)):
        epoch.update({f"torchvision_w{n}_epoch_s": seconds, f"torchvision_w{n}_pipeline_s": pipeline})
        epoch.update({f"ratio_w{n}_epoch": seconds, f"ratio_w{n}_pipeline": pipeline / 0.5})
    train_rows = run_all.train_epoch_rows({"crops": 600, "source": "blobs", "batch_size": 64, "cnn/cpu": epoch})
    assert len(train_rows) == 3 and all("cnn on cpu (600 crops, batch 64)" in row.measured for row in train_rows)
    floor, fastest_epoch, fastest_pipeline = train_rows
    assert floor.baseline == "0.800 s" and floor.ratio == "1.25x the floor (goal at most 1.15: missed)"
    # the baseline at its fastest worker count, not at a fixed one
    assert "fastest: 2 workers (of 0, 2)" in fastest_epoch.measured and fastest_epoch.ratio == "2.0x faster"
    assert "fastest: 0 workers (of 0, 2)" in fastest_pipeline.measured and fastest_pipeline.baseline == "1.000 s"

    decode = {"photos": 10, "crops": 60, "maskflow_crops_per_s": 600.0, "naive_crops_per_s": 60.0}
    decode.update({"naive_cpu_s": 1.0, "maskflow_cpu_s": 0.1, "decode_only_cpu_s": 0.2, "decode_scaled_cpu_s": 0.08})
    decode.update({"time_vs_decode_scaled": 1.25})
    naive_row, scaled_row, full_row = run_all.preprocess_rows(decode)
    assert naive_row.ratio == "10.0x faster" and scaled_row.baseline == "0.08 s"
    assert scaled_row.ratio == "1.25x the decode's time (goal at most 1.2x)" and full_row.ratio == "2.0x faster"

    def scaling(photos, rate, anon):
        return {
            "photos": photos,
            "crops": photos * 6,
            "crops_per_s": rate,
            "peak_anon_mb": anon,
            "peak_rss_mb": 100 + photos / 10,
            "output_mb": photos / 100,
        }

    scaling_rows = run_all.data_scaling_rows(
        {
            "threads": [1, 2],
            **{
                f"{p}_photos/{t}_threads": scaling(p, rate, anon)
                for p, t, rate, anon in (
                    (100, 1, 1000, 50),
                    (100, 2, 1800, 51),
                    (5000, 1, 1100, 52),
                    (5000, 2, 2000, 52),
                )
            },
            "anon_growth_mb": 2.0,
        }
    )
    assert [row.ratio for row in scaling_rows] == [
        "1.80x speed-up",
        "1.82x speed-up",
        "1.10x (throughput holds)",
        "1.04x (flat)",
        "5.45x (grows)",
    ]

    base = {"config": "tiny.yaml", "full_jobs": 70, "full_s": 100.0}
    edits = {"lr_jobs": 20, "lr_s": 30.0, "lr_trained": 3, "lr_ok": True, "lr_unexpected": []}
    edits.update(figure_jobs=3, figure_s=5.0, figure_trained=0, figure_ok=False, figure_unexpected=["train[model=x]"])
    incremental_rows = run_all.incremental_rows({**base, **edits})
    assert "3 trained, as expected" in incremental_rows[0].measured
    assert "UNEXPECTED: train[model=x]" in incremental_rows[2].measured and incremental_rows[2].maskflow == "3 jobs"


def test_markdown_aligns_the_table():
    rows = [("a", run_all.Row("one", "1 s")), ("longer name", run_all.Row("two", "22 s", "44 s", "2.0x faster"))]
    lines = run_all.markdown(rows).splitlines()
    assert len(lines) == 2 + len(rows) and len({len(line) for line in lines}) == 1
    assert lines[0].split("|")[1].strip() == "benchmark" and set(lines[1]) == {"|", "-"}
    assert [cell.strip() for cell in lines[3].split("|")[1:-1]] == ["longer name", "two", "22 s", "44 s", "2.0x faster"]


# ---------------------------------------------------------------- sweep_overhead: a sweep's cost per member


@pytest.mark.workflow
def test_sweep_overhead_times_a_tiny_sweep_and_finds_each_rules_cost(tmp_path):
    sweep_overhead = importlib.import_module("bench.sweep_overhead")
    f = sweep_overhead.main(
        ["--members", "2", "--torch-members", "1", "--torch-epochs", "1"]
        + ["--dag-sizes", "2", "--repeats", "1", "--keep", str(tmp_path / "sweep")]
    )
    # the NumPy sweep runs `all`, as a user does: each member's train and evaluate, the base model
    # (its figures and run record), the sweep's table and plots, the run history (which records the
    # members: no job of theirs) and the report; a member draws no figures of its own (issue 26): no
    # figure rule runs more than the base's two splits
    counts = f["jobs_per_rule"]
    rules = ("train", "evaluate_model", "track", "track_history", "sweep", "report", "all")
    assert {rule: counts[rule] for rule in rules} == {
        "train": 3, "evaluate_model": 3, "track": 1, "track_history": 1, "sweep": 1, "report": 1, "all": 1,
    }  # fmt: skip
    assert all(n <= 2 for rule, n in counts.items() if rule.startswith("figure_")) and f["target"] == "all"
    # the torch sweep its members' own jobs only
    assert f["torch"]["jobs_per_rule"] == {
        "argument_file": 2,
        "train": 1,
        "evaluate_model": 1,
        "sweep": 1,
    }  # fmt: skip (the sweep's two lists: metrics, histories)
    rules = {"train", "evaluate_model", "sweep"}  # the jobs rerun alone: one member's own, and the sweep
    for kind in (f, f["torch"]):  # beyond its own train + evaluate jobs: what the rest costs a member
        own = kind["per_rule"]["train"]["cpu_s"] + kind["per_rule"]["evaluate_model"]["cpu_s"]
        assert kind["beyond_own_cpu_per_member_s"] == pytest.approx(kind["cpu_per_member_s"] - own)
    # each verdict follows its number and goal (not merely one of the two words)
    goals = sweep_overhead.GOALS
    assert f["goal_beyond_own_cpu_s"] == (
        "met" if f["beyond_own_cpu_per_member_s"] <= goals["beyond_own_cpu_s"] else "missed"
    )
    torch_beyond = f["torch"]["beyond_own_cpu_per_member_s"]
    assert f["goal_torch_beyond_own_cpu_s"] == ("met" if torch_beyond <= goals["torch_beyond_own_cpu_s"] else "missed")
    # each of one member's jobs (and the sweep's) found in the log and rerun alone
    assert set(f["per_rule"]) == rules
    assert all(cost["cpu_s"] > 0 and cost["peak_mb"] > 10 for cost in f["per_rule"].values())
    assert 0 < f["train_loops_s"] < f["cpu_s"] and 0 < f["overhead_cpu_per_member_s"] < f["cpu_per_member_s"]
    # Snakemake's own CPU (its jobs are children) is measured, not estimated: part of the whole
    assert 0 < f["snakemake_cpu_s"] < f["cpu_s"] and f["jobs_cpu_s"] == pytest.approx(f["cpu_s"] - f["snakemake_cpu_s"])
    # Snakemake's benchmark files sample the job's memory now and then: a NumPy train job of
    # 0.3 s may end before the first sample, so only their presence is certain; the job's own
    # peak comes from the rerun above.
    assert f["train_job_peak_mb"] is not None and f["peak_mb"] >= max(
        f["train_job_peak_mb"], f["per_rule"]["train"]["peak_mb"]
    )
    assert f["imports"]["(torch, for comparison)"]["peak_mb"] > f["imports"]["train"]["peak_mb"]
    assert f["dag_2_jobs"] > f["jobs"]  # `-n all` plans the data stage, the base model, compare and report too
    assert f["goal_peak_mb"] == ("met" if f["peak_mb"] <= goals["peak_mb"] else "missed")


def test_sweep_overhead_verdicts_hold_the_goal_itself_and_miss_above_it():
    sweep_overhead = importlib.import_module("bench.sweep_overhead")
    assert sweep_overhead.verdict(1.0, 1.0) == "met" and sweep_overhead.verdict(0.2, 1.0) == "met"
    assert sweep_overhead.verdict(1.01, 1.0) == "missed"
    assert sweep_overhead.GOALS["wall_s"] == 60.0 and sweep_overhead.GOALS["beyond_own_cpu_s"] == 1.0


def test_sweep_overhead_reads_shell_commands_per_job():
    sweep_overhead = importlib.import_module("bench.sweep_overhead")
    log = (
        "rule train:\n    wildcards: dataset=digits, model=a\nShell command: python -m maskflow train --x 1 2> a.log\n\n"
        "localrule sweep:\n    input: x\nShell command: python -m maskflow sweep --y 2\n\nrule all:\n    input: z\n"
    )
    assert sweep_overhead.shell_commands(log) == [
        ("train", "python -m maskflow train --x 1 2> a.log"),
        ("sweep", "python -m maskflow sweep --y 2"),
    ]


# --------------------------------------------------------------------------- tiny runs of the timing scripts


def test_train_epoch_times_the_floor_and_the_baseline_at_its_fastest(capsys):
    train_epoch = importlib.import_module("bench.train_epoch")
    import torch

    threads = torch.get_num_threads()
    try:
        args = [
            "--crops",
            "48",
            "--epochs",
            "1",
            "--threads",
            "1",
            "2",
            "--cache-dir",
            "/nonexistent",
        ]
        results = train_epoch.main(args)  # the default workers: 0, 1 and 2
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    for name in ("cnn_baseline", "mlp"):
        for threads in ("1t", "2t"):  # the default config trains at 2: those rows too
            figures = results[f"{name}/cpu/{threads}"]
            assert figures["floor_epoch_s"] > 0
            assert figures["maskflow_over_floor"] == pytest.approx(
                figures["maskflow_epoch_s"] / figures["floor_epoch_s"]
            )
            fastest = figures["torchvision_best_workers"]
            assert figures["torchvision_best_epoch_s"] == min(figures[f"torchvision_w{n}_epoch_s"] for n in (0, 1, 2))
            assert figures["torchvision_best_epoch_s"] == figures[f"torchvision_w{fastest}_epoch_s"]
            key = f"{name}/cpu/{threads}"
            assert f"{key}: maskflow epoch / floor {figures['maskflow_over_floor']:.2f}" in printed
            assert f"at its fastest ({fastest} workers) / maskflow {figures['ratio_best_epoch']:.2f}" in printed
    rows = run_all.train_epoch_rows(results)
    assert len(rows) == 3 * 2 * 2
    assert sum("on cpu, 2 torch threads" in row.measured for row in rows) == 3 * 2
    assert all("(of 0, 1, 2)" in row.measured for row in rows if "fastest" in row.measured)


def test_every_train_epoch_side_gets_maskflows_model_settings():
    train_epoch = importlib.import_module("bench.train_epoch")
    import torch

    model, optimizer, criterion, amp = train_epoch.make_model(train_epoch.ARCHS["cnn_baseline"], 3, 32, "cpu")
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert optimizer.defaults["fused"] is True
    assert amp.dtype is None  # fp32 on CPU; the GPU gets bf16 on every side alike


def test_preprocess_decodes_at_maskflows_scale_too():
    import subprocess

    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "preprocess.py"), "--photos", "3", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(d) ... at maskflow's JPEG scale" in result.stdout
    assert re.search(r"\(a\) time / \(d\) time: \d+\.\d\d in CPU seconds", result.stdout)


def test_sweep_overhead_rows_give_the_goals_figures_and_each_dag_size_in_order():
    figures = {
        "members": 100, "cores": 2, "wall_s": 51.4, "members_per_min": 116.7, "beyond_own_cpu_per_member_s": 0.456,
        "torch": {"members": 10, "beyond_own_cpu_per_member_s": 0.912},
        "peak_mb": 120.4, "snakemake_cpu_s": 7.3, "jobs_cpu_s": 138.3,
        **{f"dag_{n}_{k}": v for n in (1000, 100) for k, v in (("s", n / 100), ("cpu_s", n / 200), ("jobs", 4 * n))},
    }  # fmt: skip
    rows = run_all.sweep_overhead_rows(figures)
    assert [row.maskflow for row in rows] == [
        "51 s, 117 members/min",
        "0.46 CPU s",
        "0.91 CPU s",
        "0.07 / 1.38 CPU s",
        "120 MB",
        "1.00 s (0.50 CPU s)",
        "10.00 s (5.00 CPU s)",
    ]
    assert "a sweep of 100 members (400 jobs)" in rows[5].measured and "`--cores 2`" in rows[0].measured
    assert "at most 60 s" in rows[0].measured and "torch member (10 MLPs)" in rows[2].measured
    del figures["torch"]
    assert len(run_all.sweep_overhead_rows(figures)) == len(rows) - 1


def test_planning_rows_give_each_size_its_goal_and_the_growth():
    figures = {
        "sizes": {n: {"members": n, "jobs": 4 * n + 20, "wall_s": n / 250, "cpu_s": n / 300} for n in (10000, 100, 1000)},
        "growth": [
            {"from": 100, "to": 1000, "wall_ms_per_member": 4.0, "cpu_ms_per_member": 3.3},
            {"from": 1000, "to": 10000, "wall_ms_per_member": 4.4, "cpu_ms_per_member": 3.5},
        ],
        "growth_ratio": 1.1,
    }  # fmt: skip
    rows = run_all.planning_rows(figures)
    assert [row.maskflow for row in rows] == [
        "0.40 s (0.33 CPU s)", "4.00 s (3.33 CPU s)", "40.00 s (33.33 CPU s)", "4.00 ms (3.30 CPU ms)",
        "4.40 ms (3.50 CPU ms)", "1.10x",
    ]  # fmt: skip
    assert "1000 members (4020 jobs); goal: at most 5 s" in rows[1].measured and "goal" not in rows[0].measured
    assert "at most 60 s" in rows[2].measured
