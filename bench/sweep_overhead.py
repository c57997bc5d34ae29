"""Benchmark: what each member of a sweep of small models costs beyond its own training (issues 17, 26).

The studies maskflow serves sweep many small models, where a job's fixed cost (starting Python,
imports, Snakemake's bookkeeping) is most of the work. This builds scikit-learn's digits data once
(not timed), then times `snakemake --cores 2 all` on an N-member sweep of config.yaml's NumPy DNN
(`dnn`, its learning rate varied): every member's train and evaluate jobs, the sweep's table and
plots (a member draws no figures of its own unless its sweep lists it: issue 26), and what `all`
makes once (the base model's figures, the run history, whose one job per dataset also builds
every member's run record, the report; `--target sweep` leaves these out). Then a smaller sweep of config.yaml's torch MLP
(`digits_mlp`, `--torch-epochs` epochs, one thread a train job), its own targets only (members'
jobs and the sweep's table and plots: with ten members, the once-per-dataset jobs would be most
of a member's share). It reports

- wall time and members per minute;
- CPU seconds per member (the Snakemake process and all its jobs, from getrusage); beyond the
  training loops (the members' `train_seconds`); and beyond the member's own train and evaluate
  jobs (each rerun alone, lowest CPU of the reruns): what the rest of the workflow costs per member;
  the Snakemake process's own share (it prints its CPU at exit) against its jobs';
- per rule, the CPU seconds and peak RSS of one member's job, rerun alone in a fresh process
  (os.wait4), and the max_rss / cpu_time of every train job's Snakemake benchmark file (train is
  the only rule of these with a `benchmark:`);
- import cost of each command's module (`python -c "import M"`: CPU seconds and peak RSS), torch
  for comparison;
- `snakemake -n all` (DAG build, nothing run) for configs of 100, 300 and 1,000 members
  (bench/planning.py does this up to 10,000 members, with the growth per member).

    .venv/bin/python bench/sweep_overhead.py                    # 100 NumPy + 10 torch members (about 3 min on 2 cores)
    .venv/bin/python bench/sweep_overhead.py --members 20 --torch-members 0 --dag-sizes 100 500
    .venv/bin/python bench/sweep_overhead.py --keep /tmp/sweep  # keep the built folders
    .venv/bin/python bench/sweep_overhead.py --snakemake-args '--scheduler greedy'   # an option's effect

Goals (issue 26): 100 NumPy members in at most 60 s wall on 2 cores (scaled from --members when
fewer), at most 1 CPU s per member beyond its own train and evaluate jobs (NumPy and torch alike);
kept from issue 17: peak memory per job under 250 MB. Wall time on a shared machine depends on
what else runs; the CPU seconds and memory do not.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maskflow import layout  # noqa: E402
from maskflow.config import load_and_check  # noqa: E402

from bench.workflow_overhead import job_counts, own_cpu_seconds, snakemake, snakemake_env, timed  # noqa: E402

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SWEEP = "dnn_bench"
DATASET = "digits"
# Rules of one member's jobs, and of the sweep's; their cost is measured by rerunning them alone.
MEMBER_RULES = ("train", "evaluate_model", "figure_confusion_matrix", "figure_learning_curves")
OWN_RULES = ("train", "evaluate_model")  # a member's own work; the rest is what the sweep adds
# sweep kind -> config.yaml's model the sweep varies (the torch one trains `--torch-epochs`)
BASES = {"numpy": "dnn", "torch": "digits_mlp"}
# Modules each command imports to do its work (maskflow.cli imports the command's module).
IMPORTS = {
    "train": "maskflow.training.command",
    "evaluate": "maskflow.evaluation.evaluate",
    "figure confusion_matrix": "maskflow.figures.confusion",
    "figure learning_curves": "maskflow.figures.curves",
    "sweep": "maskflow.compare.sweep",
    "(torch, for comparison)": "torch",
}
GOALS = {"wall_s": 60.0, "beyond_own_cpu_s": 1.0, "torch_beyond_own_cpu_s": 1.0, "peak_mb": 250.0, "dag_500_s": 5.0}


def sweep_config(
    members: int, cores: int, base: str = "dnn", epochs: int | None = None, train_threads: int | None = None
) -> dict:
    """config.yaml's digits data set and model `base` (`dnn`, or `digits_mlp` for torch), and a
    sweep of `members` learning rates; `epochs` overrides the base's, `train_threads` the train
    jobs' threads (default: `cores`; a NumPy member takes one whatever this says)."""
    default = yaml.safe_load((ROOT / "config.yaml").read_text())
    dataset = {**default["datasets"][DATASET], "baseline": base}
    model = default["models"][base]
    if epochs is not None:
        model = {**model, "train": {**model["train"], "epochs": epochs}}
    return {
        "seed": default.get("seed", 1),
        "device": "cpu",
        "threads": {"cache": cores, "train": train_threads or cores, "evaluate": 1},
        "datasets": {DATASET: dataset},
        "models": {base: model},
        "sweeps": {SWEEP: {"base": base, "grid": {"train.lr": [round(0.01 + 0.0005 * i, 6) for i in range(members)]}}},
    }


def sweep_targets(config: dict) -> tuple[list[str], list[str]]:
    """(the sweep's members, the files that make them: the figures of each member its sweep lists
    (none by default), the sweep's table and plots). Not the run history: the members' records
    are built by the dataset's one history job (no job per member), which `all` measures."""
    resolved = load_and_check(yaml.safe_load(yaml.safe_dump(config)), SCHEMA)
    experiment = layout.Experiment(resolved)
    members = experiment.sweep_models(DATASET, SWEEP)
    targets = [path for member in members for path in experiment.figure_paths(member).values()]
    return members, targets + list(experiment.sweep_paths(DATASET, SWEEP).values())


def shell_commands(log: str) -> list[tuple[str, str]]:
    """(rule, shell command) of every job a Snakemake log prints (the profile sets printshellcmds)."""
    found = []
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", log, flags=re.MULTILINE):
        header = re.match(r"(?:local)?rule (\w+):$", block, re.MULTILINE)
        command = re.search(r"^Shell command: (.*)$", block, re.MULTILINE)
        if header and command:
            found.append((header.group(1), command.group(1)))
    return found


# A small measuring process between this one and the command. Linux keeps a process's peak RSS
# across exec, and a child forked from this (possibly large: pytest with torch loaded) process
# starts with this process's peak; a child of a fresh small Python does not.
MEASURE = (
    "import json, resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps([code, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]))\n"
)


def rusage_of(command: list[str] | str, cwd: Path, shell: bool = False) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of one command and its children, run to completion."""
    argv = ["/bin/sh", "-c", command] if shell else list(command)
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], cwd=cwd, env=snakemake_env(), capture_output=True, text=True
    )
    code, cpu_s, peak_kb = json.loads(result.stdout.strip().splitlines()[-1])
    if code:
        raise RuntimeError(f"{command!r} failed ({code})")
    return cpu_s, peak_kb / 1024


def rerun_costs(workdir: Path, log: str, member: str, repeats: int) -> dict[str, dict]:
    """rule -> {cpu_s, peak_mb} of `member`'s jobs and the sweep job, each rerun alone `repeats` times
    (lowest CPU, highest peak). Rerunning rewrites the same files."""
    wanted = {}
    for rule, command in shell_commands(log):
        if (rule in MEMBER_RULES and f"/{member}/" in command) or rule == "sweep":
            wanted.setdefault(rule, command)
    costs = {}
    for rule, command in wanted.items():
        runs = [rusage_of(command, workdir, shell=True) for _ in range(repeats)]
        costs[rule] = {"cpu_s": min(r[0] for r in runs), "peak_mb": max(r[1] for r in runs)}
    return costs


def import_costs(repeats: int, modules: dict[str, str] = IMPORTS) -> dict[str, dict]:
    """label -> {cpu_s, peak_mb} of `python -c "import M"` (lowest CPU of `repeats`)."""
    costs = {}
    for label, module in modules.items():
        runs = [rusage_of([sys.executable, "-c", f"import {module}"], ROOT) for _ in range(repeats)]
        costs[label] = {"module": module, "cpu_s": min(r[0] for r in runs), "peak_mb": max(r[1] for r in runs)}
    return costs


def train_benchmarks(workdir: Path, members: list[str]) -> list[dict]:
    """Each member's train benchmark file (Snakemake's `benchmark:`): s, cpu_time, max_rss (MB)."""
    rows = []
    for member in members:
        path = workdir / f"results/{DATASET}/benchmarks/train/{member}.tsv"
        with path.open() as handle:
            row = list(csv.DictReader(handle, delimiter="\t"))[-1]
        rows.append({key: float(row[key]) for key in ("s", "cpu_time", "max_rss")})
    return rows


def training_seconds(workdir: Path, members: list[str]) -> float:
    """The members' training loops, summed (metrics.json's training.train_seconds)."""

    total = 0.0
    for member in members:
        metrics = json.loads((workdir / layout.MODEL["metrics"].format(dataset=DATASET, model=member)).read_text())
        total += metrics["training"]["train_seconds"]
    return total


def dag_seconds(sizes: list[int], cores: int, repeats: int) -> dict[int, tuple[float, float, int]]:
    """members -> (best wall, best CPU, jobs) of `snakemake -n all` on a sweep of that many members."""
    found = {}
    with tempfile.TemporaryDirectory(prefix="maskflow-dag-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"config_{size}.yaml"
            path.write_text(yaml.safe_dump(sweep_config(size, cores)))
            runs = [timed(Path(tmp), path, "-n", "all", cores=cores) for _ in range(repeats)]
            found[size] = (min(r[0] for r in runs), min(r[1] for r in runs), sum(job_counts(runs[-1][2]).values()))
    return found


def verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "missed"


def measure_sweep(workdir: Path, config: dict, cores: int, repeats: int, extra: list[str], target: str = "all") -> dict:
    """Build the data stage (not timed), then time `snakemake all` (`target` "all": what a user
    runs, the run history's records and logging and the report included) or the sweep's own
    targets ("sweep") in `workdir`: the figures of one sweep run (wall, CPU, jobs, per-member
    costs, one member's jobs rerun alone)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    members, targets = sweep_targets(config)
    data = [layout.DATA["normalization"].format(dataset=DATASET), *layout.cache_files(DATASET)]
    started = time.perf_counter()
    snakemake(workdir, config_path, *data, cores=cores)
    figures: dict = {"members": len(members), "data_s": time.perf_counter() - started}

    wall, cpu, log = timed(workdir, config_path, *extra, *(["all"] if target == "all" else targets), cores=cores)
    counts = job_counts(log)
    loops = training_seconds(workdir, members)
    trains = train_benchmarks(workdir, members)
    per_rule = rerun_costs(workdir, log, members[0], repeats)
    own = sum(per_rule[rule]["cpu_s"] for rule in OWN_RULES if rule in per_rule)  # one member's train + evaluate
    figures.update(
        {
            "wall_s": wall,
            "cpu_s": cpu,
            "jobs": sum(counts.values()),
            "jobs_per_rule": dict(counts),
            "members_per_min": len(members) / wall * 60,
            "cpu_per_member_s": cpu / len(members),
            "train_loops_s": loops,
            "overhead_cpu_per_member_s": (cpu - loops) / len(members),
            "own_cpu_per_member_s": own,
            "beyond_own_cpu_per_member_s": cpu / len(members) - own,
            "train_job_peak_mb": max(row["max_rss"] for row in trains),
            "train_job_cpu_mean_s": sum(row["cpu_time"] for row in trains) / len(trains),
            "train_job_wall_mean_s": sum(row["s"] for row in trains) / len(trains),
            "per_rule": per_rule,
        }
    )
    figures["snakemake_cpu_s"] = own_cpu_seconds(log)  # the scheduler itself; its jobs are children
    figures["jobs_cpu_s"] = cpu - figures["snakemake_cpu_s"]
    figures["peak_mb"] = max([figures["train_job_peak_mb"], *(c["peak_mb"] for c in per_rule.values())])
    return figures


def print_sweep(kind: str, f: dict, cores: int) -> None:
    counts = f["jobs_per_rule"]
    print(
        f"{kind} sweep: {f['members']} members, {f['jobs']} jobs ({', '.join(f'{r} {n}' for r, n in counts.items())}), "
        f"--cores {cores}: {f['wall_s']:.1f} s wall, {f['members_per_min']:.1f} members/min; "
        f"{f['cpu_s']:.1f} CPU s = {f['cpu_per_member_s']:.2f} per member, of which training loops "
        f"{f['train_loops_s'] / f['members']:.2f}; its own train + evaluate jobs {f['own_cpu_per_member_s']:.2f}, "
        f"beyond them {f['beyond_own_cpu_per_member_s']:.2f}",
        flush=True,
    )
    print(f"  one {kind} member's jobs rerun alone (lowest CPU, highest peak of the reruns):")
    for rule, cost in f["per_rule"].items():
        print(f"    {rule:26s} {cost['cpu_s']:5.2f} CPU s  {cost['peak_mb']:6.0f} MB")
    print(
        f"  train jobs' benchmark files: {f['train_job_cpu_mean_s']:.2f} CPU s mean, "
        f"{f['train_job_peak_mb']:.0f} MB peak; Snakemake itself "
        f"{f['snakemake_cpu_s']:.1f} CPU s ({f['snakemake_cpu_s'] / f['members']:.2f} a member), "
        f"its {f['jobs']} jobs {f['jobs_cpu_s']:.1f} ({f['jobs_cpu_s'] / f['members']:.2f} a member)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100, help="members of the NumPy sweep")
    parser.add_argument("--torch-members", type=int, default=10, help="members of the torch sweep (0: none)")
    parser.add_argument("--torch-epochs", type=int, default=5, help="epochs of each torch member")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--dag-sizes", type=int, nargs="*", default=[100, 300, 1000])
    parser.add_argument("--repeats", type=int, default=3, help="reruns of each single job and import (and dry run)")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary one)")
    parser.add_argument(
        "--snakemake-args", default="", help="more options for the timed run, e.g. '--scheduler greedy' (quoted)"
    )
    parser.add_argument(
        "--target",
        choices=("all", "sweep"),
        default="all",
        help="time the NumPy sweep's `snakemake all` (default: what a user runs, run history and report "
        "included) or only the sweep's own targets (members' train and evaluate, the sweep's table "
        "and plots; the torch sweep always runs these)",
    )
    args = parser.parse_args(argv)
    figures: dict = {
        "cores": args.cores,
        "target": args.target,
        "snakemake_args": args.snakemake_args,
        "load_at_start": os.getloadavg()[0],
    }
    print(f"load average at start: {figures['load_at_start']:.2f} (wall times need a quiet machine)", flush=True)
    extra = shlex.split(args.snakemake_args)
    with tempfile.TemporaryDirectory(prefix="maskflow-sweep-") as tmp:
        folder = args.keep or Path(tmp)
        # The NumPy sweep's figures are the top-level ones (as before issue 26); the torch sweep's go under "torch".
        figures.update(
            measure_sweep(
                folder / "numpy", sweep_config(args.members, args.cores), args.cores, args.repeats, extra, args.target
            )
        )
        print_sweep("NumPy", figures, args.cores)
        if args.torch_members:
            # one thread a member: small models side by side, as a sweep runs them (two 2-thread
            # torch jobs on 2 cores would add the oversubscription's spinning to every member)
            config = sweep_config(args.torch_members, args.cores, BASES["torch"], args.torch_epochs, train_threads=1)
            # Its own targets: with ten members, `all`'s once-per-dataset jobs (report, data
            # figures, the base model's figures) would be most of what a member is charged.
            figures["torch"] = measure_sweep(folder / "torch", config, args.cores, args.repeats, extra, "sweep")
            print_sweep("torch", figures["torch"], args.cores)

    figures["imports"] = import_costs(args.repeats)
    print("imports (python -c 'import M', a fresh process; python itself included):")
    for label, cost in figures["imports"].items():
        print(f"  {label:26s} {cost['module']:32s} {cost['cpu_s']:5.2f} CPU s  {cost['peak_mb']:6.0f} MB")
    for size, (dag_wall, dag_cpu, jobs) in dag_seconds(args.dag_sizes, args.cores, args.repeats).items():
        figures[f"dag_{size}_s"], figures[f"dag_{size}_cpu_s"], figures[f"dag_{size}_jobs"] = dag_wall, dag_cpu, jobs
        print(f"snakemake -n all, {size} members ({jobs} jobs): {dag_wall:.2f} s ({dag_cpu:.2f} CPU s)")

    scale = 100 / figures["members"]  # the wall goal is for 100 members
    checks = {
        "wall_s": (figures["wall_s"] * scale, "100 NumPy members, wall (s; scaled when fewer)"),
        "beyond_own_cpu_s": (
            figures["beyond_own_cpu_per_member_s"],
            "NumPy: CPU s per member beyond its train + evaluate",
        ),
        "peak_mb": (figures["peak_mb"], "peak memory of a job (MB)"),
    }
    if "torch" in figures:
        checks["torch_beyond_own_cpu_s"] = (
            figures["torch"]["beyond_own_cpu_per_member_s"],
            "torch: CPU s per member beyond its train + evaluate",
        )
    if "dag_500_s" in figures:
        checks["dag_500_s"] = (figures["dag_500_s"], "500 members planned (s)")
    for key, (value, label) in checks.items():
        figures[f"goal_{key}"] = verdict(value, GOALS[key])
        print(f"goal {label} <= {GOALS[key]:g}: {value:.2f}, {figures[f'goal_{key}']}")
    return figures


if __name__ == "__main__":
    main()
