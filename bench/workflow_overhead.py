"""Benchmark: Snakemake's own overhead for maskflow's DAG as the number of models grows.

Times `snakemake -n all` (DAG construction, no job runs) for the default config, and for
tests/config/tiny.yaml plus a sweep that adds models until 10, 100 and 500 are configured, and a no-op
`snakemake all` on a tree that is already built (every output up to date: Snakemake only checks
files, params and code). Wall and CPU seconds are printed: CPU time stays put when other work
shares the cores.

It prints a verdict for each of the README's two goals (issue 17; `GOALS`), judged on the median
wall time of --repeats runs (5 by default) and saying so:
- 500 models (tiny config + a sweep, 2,058 jobs) planned from nothing in under 5 s;
- a no-op `snakemake -n all` of the default config on a built tree in under 1.5 s. That needs a
  tree built with config.yaml (--default-built; bench/end_to_end.py builds one, and
  bench/run_all.py hands it over); without one the verdict says it was not measured.

    .venv/bin/python bench/workflow_overhead.py [--models 10 100 500] [--repeats 5]
    .venv/bin/python bench/workflow_overhead.py --default-built /tmp/e2e     # a tree built with config.yaml
    .venv/bin/python bench/workflow_overhead.py --noop-workdir /tmp/built --noop-config config.yaml
    .venv/bin/python bench/workflow_overhead.py --skip-noop

Without --noop-workdir, the no-op run is timed on tests/config/tiny.yaml, built first in a
temporary folder (about two minutes on two cores; not timed). bench/end_to_end.py times the
no-op on the default config after its full run.

The helpers that run Snakemake and read its job stats (`snakemake`, `timed`, `job_counts`,
`jobs_run`, `noop_seconds`) are shared with bench/incremental.py and bench/end_to_end.py. Where SLURM's
client tools are installed but no controller answers, every Snakemake start waits up to 10 s
for the slurm executor plugin's `scontrol` probe; the runs here then see an `scontrol` that
fails at once (a note says so and gives the probe's time; see `snakemake_env`).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "tests" / "config" / "tiny.yaml"

# The README's goals for Snakemake's own overhead (issue 17): figure key -> (seconds, what is timed).
GOALS = {
    "plan_500_models": (5.0, "`snakemake -n all` from nothing, 500 models (tiny config + a sweep)"),
    "noop_dry_run_default": (1.5, "no-op `snakemake -n all`, default config, built tree"),
}


# ---------------------------------------------------------------- verdicts on the goals


def verdict(seconds: list[float], goal: float) -> dict:
    """Several runs' wall seconds of one command judged against `goal`: met when their median is
    under it (one busy moment neither makes nor breaks it, as a best or a single run would)."""
    if not seconds:
        raise ValueError("no runs to judge")
    median = statistics.median(seconds)
    return {
        "runs": len(seconds),
        "median_s": median,
        "min_s": min(seconds),
        "max_s": max(seconds),
        "goal_s": goal,
        "verdict": "met" if median < goal else "missed",
    }


def verdict_line(goal: str, judged: dict | None) -> str:
    """One line: what was timed, the median of how many runs, the goal and whether it was met."""
    seconds, what = GOALS[goal]
    if judged is None:
        return f"{what}: not measured; goal < {seconds:g} s"
    return (
        f"{what}: median of {judged['runs']} runs {judged['median_s']:.2f} s "
        f"({judged['min_s']:.2f}-{judged['max_s']:.2f}); goal < {judged['goal_s']:g} s: {judged['verdict']}"
    )


# ---------------------------------------------------------------- running Snakemake, reading its log


@functools.cache
def slurm_probe_seconds() -> float | None:
    """Seconds `scontrol show config` takes here (None without SLURM's client tools).

    snakemake-executor-plugin-slurm runs it when Snakemake loads its plugins, that is at every
    Snakemake start, local runs included, and gives up after 10 s. Where SLURM's tools are
    installed but no controller answers (a cluster set up for tests and stopped), each start
    waits those seconds: a cost of the machine, not of maskflow."""
    if not shutil.which("scontrol"):
        return None
    start = time.perf_counter()
    try:
        subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        pass
    return time.perf_counter() - start


@functools.cache
def snakemake_env() -> dict[str, str]:
    """The environment benchmarked Snakemake runs get. The venv's python comes first on PATH
    (jobs call `python -m maskflow`, as in tests/conftest.py); where the SLURM probe is slow,
    an `scontrol` that fails at once is put before the real one, so the timings are maskflow's
    and Snakemake's as on a machine without SLURM."""
    path = [os.path.dirname(sys.executable)]
    probe = slurm_probe_seconds()
    if probe is not None and probe > 1.0:
        shim = Path(tempfile.mkdtemp(prefix="maskflow-bench-noslurm-"))
        (shim / "scontrol").write_text("#!/bin/sh\nexit 1\n")
        (shim / "scontrol").chmod(0o755)
        path.insert(0, str(shim))
        print(
            f"note: `scontrol show config` takes {probe:.1f} s here (SLURM tools, no controller); Snakemake's slurm plugin "
            f"would wait that long at every start. Benchmarked runs see an scontrol that fails at once.",
            flush=True,
        )
    return {**os.environ, "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")])}


# `python -m snakemake ARGS` that also prints, at exit, the Snakemake process's own CPU seconds:
# its jobs are child processes, so this is the scheduler's share alone (`own_cpu_seconds`).
SNAKEMAKE_REPORTING_ITS_CPU = (
    "import atexit, resource, sys\n"
    "def own():\n"
    "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print(f'snakemake own CPU: {usage.ru_utime + usage.ru_stime:.3f} s', file=sys.stderr)\n"
    "atexit.register(own)\n"
    "sys.argv = ['snakemake', *sys.argv[1:]]\n"
    "from snakemake.cli import main\n"
    "main()\n"
)


def own_cpu_seconds(log: str) -> float | None:
    """The Snakemake process's own CPU seconds, from the line SNAKEMAKE_REPORTING_ITS_CPU prints."""
    found = re.findall(r"^snakemake own CPU: ([0-9.]+) s$", log, re.MULTILINE)
    return float(found[-1]) if found else None


def snakemake(
    workdir: Path, configfile: Path, *args: str, cores: int = 2, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in `workdir` with one config file; stdout and stderr
    together in `.stdout` (a dry run logs to stdout, a real run to stderr)."""
    command = [
        sys.executable,
        "-c",
        SNAKEMAKE_REPORTING_ITS_CPU,
        "--cores",
        str(cores),
        *args,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
    ]
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=snakemake_env())
    if check and process.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed ({process.returncode}):\n{process.stdout[-4000:]}")
    return process


def timed(workdir: Path, configfile: Path, *args: str, cores: int = 2) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, log) of one Snakemake run. CPU time (the Snakemake process and
    its jobs) hardly changes when other work shares the cores; wall time does."""
    snakemake_env()  # its one-off SLURM probe is not part of the timing
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = snakemake(workdir, configfile, *args, cores=cores)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, process.stdout


def job_counts(log: str) -> Counter:
    """Jobs per rule from the first `Job stats:` table of a Snakemake log (empty when nothing
    was to be done). The `total` row is left out."""
    counts: Counter = Counter()
    match = re.search(r"^Job stats:\n.*\n-+\s+-+\n((?:\S+\s+\d+\n)+)", log, re.MULTILINE)
    if not match and re.search(r"^Job stats:$", log, re.MULTILINE):
        # A table that is there but does not parse (a new Snakemake layout) must not read as
        # "no jobs": the benchmarks would report a rerun of nothing.
        raise ValueError("Snakemake's 'Job stats:' table did not parse; has its layout changed?")
    for line in match.group(1).splitlines() if match else []:
        rule, count = line.split()
        if rule != "total":
            counts[rule] = int(count)
    return counts


def jobs_run(log: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a Snakemake log announces (`rule x:` / `localrule x:` blocks;
    indented inside a dry run's `Group job` block, as a CPU model's train and evaluate are)."""
    jobs = []
    for block in re.split(r"^(?=[ \t]*(?:local)?rule \w+:$)", log, flags=re.MULTILINE):
        header = re.match(r"[ \t]*(?:local)?rule (\w+):$", block, re.MULTILINE)
        if not header:
            continue
        found = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        pairs = [item.split("=", 1) for item in found.group(1).split(", ")] if found else []
        jobs.append((header.group(1), dict(pairs)))
    return jobs


def noop_seconds(workdir: Path, configfile: Path, repeats: int) -> tuple[float, float]:
    """Best wall and CPU time of `snakemake all` on a built tree; it must find nothing to do."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu, log = timed(workdir, configfile, "all")
        if job_counts(log):
            raise RuntimeError(f"{workdir} is not up to date; jobs that ran: {dict(job_counts(log))}")
        best = (min(best[0], wall), min(best[1], cpu))
    return best


# ---------------------------------------------------------------- dry runs with more and more models


def config_with_models(total: int) -> dict:
    """tests/config/tiny.yaml with an MLP learning-rate sweep making up exactly `total` models in
    all (the tiny config has fewer models than any size timed, unlike config.yaml; a dry run reads
    no data, so its small data set costs nothing here)."""
    from maskflow.config import resolve_models

    config = yaml.safe_load(TINY_CONFIG.read_text())
    extra = total - len(resolve_models(config))
    if extra < 0:
        raise ValueError(f"{TINY_CONFIG.name} has more than {total} models")
    if extra:
        config.setdefault("sweeps", {})["bench"] = {
            "base": "mlp",
            "grid": {"train.lr": [round(1e-4 * (i + 1), 6) for i in range(extra)]},
        }
    return config


def dry_runs(config: dict, workdir: Path, repeats: int) -> tuple[list[float], list[float], int]:
    """Wall and CPU seconds of each of `repeats` runs of `snakemake -n all`, and the jobs it planned."""
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    runs = [timed(workdir, config_path, "-n", "all") for _ in range(repeats)]
    return [r[0] for r in runs], [r[1] for r in runs], sum(job_counts(runs[-1][2]).values())


def dry_run_seconds(config: dict, workdir: Path, repeats: int) -> tuple[float, float, int]:
    """Best wall and CPU time of `snakemake -n all` over `repeats`, and the number of jobs it planned."""
    walls, cpus, jobs = dry_runs(config, workdir, repeats)
    return min(walls), min(cpus), jobs


def noop_dry_runs(workdir: Path, configfile: Path, repeats: int) -> list[float]:
    """Wall seconds of each of `repeats` runs of `snakemake -n all` on a built tree, which must plan nothing."""
    walls = []
    for _ in range(repeats):
        wall, _, log = timed(workdir, configfile, "-n", "all")
        if job_counts(log):
            raise RuntimeError(f"{workdir} is not built with {configfile.name}; jobs planned: {dict(job_counts(log))}")
        walls.append(wall)
    return walls


def noop_figures(workdir: Path | None, configfile: Path, repeats: int) -> dict:
    """No-op run time on `workdir` (built), or on a temporary folder built from `configfile` first."""
    with tempfile.TemporaryDirectory() as tmp:
        if workdir is None:
            workdir = Path(tmp)
            print(f"building {configfile.name} in a temporary folder for the no-op run (not timed) ...")
            snakemake(workdir, configfile, "all")
        wall, cpu = noop_seconds(workdir, configfile, repeats)
    print(f"snakemake all, everything built ({configfile.name}): {wall:.2f} s ({cpu:.2f} CPU s)")
    return {"noop_config": configfile.name, "noop_s": wall, "noop_cpu_s": cpu}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (verdicts: their median)")
    parser.add_argument("--default-built", type=Path, help="a tree built with config.yaml, for the no-op dry-run goal")
    parser.add_argument(
        "--noop-workdir", type=Path, help="a tree already built with --noop-config (default: build one)"
    )
    parser.add_argument("--noop-config", type=Path, default=TINY_CONFIG)
    parser.add_argument("--skip-noop", action="store_true", help="time the dry runs only")
    args = parser.parse_args(argv)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {"default": yaml.safe_load((ROOT / "config.yaml").read_text())}
        configs.update({f"{total}_models": config_with_models(total) for total in args.models})
        for name, config in configs.items():
            walls, cpus, jobs = dry_runs(config, Path(tmp), args.repeats)
            wall, cpu = min(walls), min(cpus)
            figures.update({f"dry_run_{name}_s": wall, f"dry_run_{name}_cpu_s": cpu, f"dry_run_{name}_jobs": jobs})
            if name == "500_models":
                figures["plan_500_models"] = verdict(walls, GOALS["plan_500_models"][0])
            label = (
                "default config" if name == "default" else name.replace("_", " ") + f" ({TINY_CONFIG.name} + a sweep)"
            )
            print(f"snakemake -n all, {label}: {wall:.2f} s ({cpu:.2f} CPU s), {jobs} jobs planned")
    if not args.skip_noop:
        figures.update(noop_figures(args.noop_workdir, args.noop_config.resolve(), args.repeats))
    if args.default_built:
        walls = noop_dry_runs(args.default_built, ROOT / "config.yaml", args.repeats)
        figures["noop_dry_run_default"] = verdict(walls, GOALS["noop_dry_run_default"][0])
    figures["slurm_probe_s"] = slurm_probe_seconds()
    for goal in GOALS:
        print(verdict_line(goal, figures.get(goal)))
    return figures


if __name__ == "__main__":
    main()
