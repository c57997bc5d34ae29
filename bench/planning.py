"""Benchmark: planning a sweep, `snakemake -n all` for 100 / 1,000 / 10,000 members (issue 26).

A sweep of config.yaml's NumPy DNN on digits (bench/sweep_overhead.py's config, its learning rate
varied) is planned from nothing: Snakemake reads the workflow, resolves the config, builds the DAG
of every job and prints each one. Per size it prints the jobs, the best wall and CPU seconds of
`--repeats` runs, and the growth per member from the size before (ms of wall and CPU per added
member): planning is linear when that growth stays flat as the sweep grows tenfold.

    .venv/bin/python bench/planning.py                          # 100, 1,000, 10,000 (about 2 min on 2 quiet cores)
    .venv/bin/python bench/planning.py --sizes 100 1000 --repeats 1

Goals (issue 26): 1,000 members planned in at most 5 s, 10,000 in at most 60 s; and linear: the
growth per member from 1,000 to 10,000 at most 1.5x that from 100 to 1,000. Wall time depends on
what else runs on the machine; CPU seconds hardly do: take the wall times on a quiet machine.
`main()` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sweep_overhead import sweep_config  # noqa: E402
from bench.workflow_overhead import job_counts, timed  # noqa: E402

GOALS = {1000: 5.0, 10000: 60.0}  # members -> seconds
LINEAR = 1.5  # the largest allowed ratio of the last size step's growth per member to the first's


def plan_seconds(size: int, cores: int, repeats: int, folder: Path) -> dict:
    """{members, jobs, wall_s, cpu_s} of `snakemake -n all` on a sweep of `size` (best of `repeats`)."""
    config = folder / f"config_{size}.yaml"
    config.write_text(yaml.safe_dump(sweep_config(size, cores)))
    runs = []
    for run in range(repeats):
        workdir = folder / f"run_{size}_{run}"  # from nothing each time: no .snakemake metadata
        workdir.mkdir()
        runs.append(timed(workdir, config, "-n", "all", cores=cores))
    return {
        "members": size,
        "jobs": sum(job_counts(runs[-1][2]).values()),
        "wall_s": min(r[0] for r in runs),
        "cpu_s": min(r[1] for r in runs),
    }


def growth(rows: list[dict]) -> list[dict]:
    """Per step between consecutive sizes: ms of wall and CPU per added member."""
    steps = []
    for small, large in zip(rows, rows[1:]):
        added = large["members"] - small["members"]
        steps.append(
            {
                "from": small["members"],
                "to": large["members"],
                "wall_ms_per_member": 1000 * (large["wall_s"] - small["wall_s"]) / added,
                "cpu_ms_per_member": 1000 * (large["cpu_s"] - small["cpu_s"]) / added,
                "jobs_per_member": (large["jobs"] - small["jobs"]) / added,
            }
        )
    return steps


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="dry runs per size (best is kept)")
    args = parser.parse_args(argv)
    figures: dict = {"load_at_start": os.getloadavg()[0], "sizes": {}}
    print(f"load average at start: {figures['load_at_start']:.2f} (wall times need a quiet machine)", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="maskflow-planning-") as tmp:
        for size in sorted(args.sizes):
            row = plan_seconds(size, args.cores, args.repeats, Path(tmp))
            rows.append(row)
            figures["sizes"][size] = row
            print(
                f"snakemake -n all, {size} members: {row['jobs']} jobs, {row['wall_s']:.2f} s ({row['cpu_s']:.2f} CPU s)",
                flush=True,
            )
    figures["growth"] = growth(rows)
    for step in figures["growth"]:
        print(
            f"growth {step['from']} -> {step['to']} members: {step['wall_ms_per_member']:.2f} ms wall, "
            f"{step['cpu_ms_per_member']:.2f} ms CPU, {step['jobs_per_member']:.2f} jobs per added member"
        )
    for size, goal in GOALS.items():
        if size in figures["sizes"]:
            wall = figures["sizes"][size]["wall_s"]
            figures[f"goal_{size}"] = "met" if wall <= goal else "missed"
            print(f"goal {size} members planned in at most {goal:g} s: {wall:.2f} s, {figures[f'goal_{size}']}")
    if len(figures["growth"]) >= 2:
        first, last = figures["growth"][0], figures["growth"][-1]
        ratio = last["cpu_ms_per_member"] / first["cpu_ms_per_member"]
        figures["growth_ratio"] = ratio
        figures["goal_linear"] = "met" if ratio <= LINEAR else "missed"
        print(
            f"goal linear (CPU growth per member, {last['from']}->{last['to']} over {first['from']}->{first['to']}, "
            f"at most {LINEAR:g}x): {ratio:.2f}x, {figures['goal_linear']}"
        )
    return figures


if __name__ == "__main__":
    main()
