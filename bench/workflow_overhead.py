"""Benchmark: Snakemake's own overhead for maskflow's DAG as the number of models grows.

Times `snakemake -n all` (DAG construction, no job runs) for the default config with its
models plus a sweep that adds models until 10, 100 and 500 are configured, and a no-op
`snakemake all` on a tree that is already built (every output up to date: Snakemake only checks
files, params and code). Goal: under 3 s for the default config and under 15 s for 500 models.

    .venv/bin/python bench/workflow_overhead.py [--models 10 100 500] [--repeats 3]
    .venv/bin/python bench/workflow_overhead.py --noop-workdir /tmp/built --noop-config config.yaml
    .venv/bin/python bench/workflow_overhead.py --skip-noop

Without --noop-workdir, the no-op run is timed on tests/config/tiny.yaml, built first in a
temporary folder (about two minutes on two cores; not timed). bench/end_to_end.py times the
no-op on the default config after its full run.

The helpers that run Snakemake and read its job stats (`snakemake`, `job_counts`, `jobs_run`,
`noop_seconds`) are shared with bench/incremental.py and bench/end_to_end.py.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "tests" / "config" / "tiny.yaml"


# ---------------------------------------------------------------- running Snakemake, reading its log


def snakemake(workdir: Path, configfile: Path, *args: str, cores: int = 2, check: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in `workdir` with one config file; stdout and stderr
    together in `.stdout` (a dry run logs to stdout, a real run to stderr)."""
    command = [
        sys.executable, "-m", "snakemake", "--cores", str(cores), *args,
        "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", str(configfile),
    ]
    # Jobs call `python -m maskflow`: the venv's python must come first on PATH, as in tests/conftest.py.
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if check and process.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed ({process.returncode}):\n{process.stdout[-4000:]}")
    return process


def job_counts(log: str) -> Counter:
    """Jobs per rule from the first `Job stats:` table of a Snakemake log (empty when nothing
    was to be done). The `total` row is left out."""
    counts: Counter = Counter()
    match = re.search(r"^Job stats:\n.*\n-+\s+-+\n((?:\S+\s+\d+\n)+)", log, re.MULTILINE)
    for line in match.group(1).splitlines() if match else []:
        rule, count = line.split()
        if rule != "total":
            counts[rule] = int(count)
    return counts


def jobs_run(log: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a Snakemake log announces (`rule x:` / `localrule x:` blocks)."""
    jobs = []
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", log, flags=re.MULTILINE):
        header = re.match(r"(?:local)?rule (\w+):$", block, re.MULTILINE)
        if not header:
            continue
        found = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        pairs = [item.split("=", 1) for item in found.group(1).split(", ")] if found else []
        jobs.append((header.group(1), dict(pairs)))
    return jobs


def noop_seconds(workdir: Path, configfile: Path, repeats: int) -> float:
    """Best wall time of `snakemake all` on a built tree; it must find nothing to do."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        process = snakemake(workdir, configfile, "all")
        best = min(best, time.perf_counter() - start)
        if job_counts(process.stdout):
            raise RuntimeError(f"{workdir} is not up to date; jobs that ran: {dict(job_counts(process.stdout))}")
    return best


# ---------------------------------------------------------------- dry runs with more and more models


def config_with_models(total: int) -> dict:
    """The default config, with an MLP learning-rate sweep making up `total` models in all."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config = copy.deepcopy(config)
    from maskflow.config import resolve_models

    existing = len(resolve_models(config))
    extra = max(0, total - existing)
    if extra:
        config.setdefault("sweeps", {})["bench"] = {
            "base": "mlp",
            "grid": {"train.lr": [round(1e-4 * (i + 1), 6) for i in range(extra)]},
        }
    return config


def dry_run_seconds(config: dict, workdir: Path, repeats: int) -> tuple[float, int]:
    """Best wall time of `snakemake -n all` over `repeats`, and the number of jobs it planned."""
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    best = float("inf")
    jobs = 0
    for _ in range(repeats):
        start = time.perf_counter()
        process = snakemake(workdir, config_path, "-n", "all")
        best = min(best, time.perf_counter() - start)
        jobs = sum(job_counts(process.stdout).values())
    return best, jobs


def noop_figures(workdir: Path | None, configfile: Path, repeats: int) -> dict:
    """No-op run time on `workdir` (built), or on a temporary folder built from `configfile` first."""
    with tempfile.TemporaryDirectory() as tmp:
        if workdir is None:
            workdir = Path(tmp)
            print(f"building {configfile.name} in a temporary folder for the no-op run (not timed) ...")
            snakemake(workdir, configfile, "all")
        seconds = noop_seconds(workdir, configfile, repeats)
    print(f"snakemake all, everything built ({configfile.name}): {seconds:.2f} s")
    return {"noop_config": configfile.name, "noop_s": seconds}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--noop-workdir", type=Path, help="a tree already built with --noop-config (default: build one)")
    parser.add_argument("--noop-config", type=Path, default=TINY_CONFIG)
    parser.add_argument("--skip-noop", action="store_true", help="time the dry runs only")
    args = parser.parse_args(argv)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        seconds, jobs = dry_run_seconds(yaml.safe_load((ROOT / "config.yaml").read_text()), Path(tmp), args.repeats)
        figures["dry_run_default_s"] = seconds
        print(f"snakemake -n all, default config: {seconds:.2f} s ({jobs} jobs planned)")
        for total in args.models:
            seconds, jobs = dry_run_seconds(config_with_models(total), Path(tmp), args.repeats)
            figures[f"dry_run_{total}_models_s"] = seconds
            print(f"snakemake -n all, {total} models: {seconds:.2f} s ({jobs} jobs planned)")
    if not args.skip_noop:
        figures.update(noop_figures(args.noop_workdir, args.noop_config.resolve(), args.repeats))
    return figures


if __name__ == "__main__":
    main()
