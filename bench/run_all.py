"""Run every benchmark in bench/ and print one table: what was measured, maskflow's figure,
the baseline's figure (where there is one) and the ratio between them.

    .venv/bin/python bench/run_all.py                              # everything, default sizes (about 15 min on 2 cores)
    .venv/bin/python bench/run_all.py --quick                      # small sizes, no end-to-end run (a few minutes)
    .venv/bin/python bench/run_all.py --only preprocess train_epoch --markdown bench/out/table.md
    .venv/bin/python bench/run_all.py --skip end_to_end incremental

Each benchmark's `main(argv)` runs in a fresh Python process (`run_all.py --child NAME ...`),
so one benchmark's process-wide settings (bench/preprocess.py pins itself to one core; torch
and OpenCV thread counts) and memory do not leak into the next. Their own detailed output is
shown as they run; the table comes last, in markdown (`--markdown PATH` also writes it to a
file, with the machine it was taken on, for the README's "Performance" section). Where CUDA is
available, bench/train_epoch.py times the GPU as well and its rows appear in the table.

Ratios say how many times better maskflow's figure is than the baseline's (faster, fewer
jobs); scaling rows compare maskflow with itself (2 threads against 1, 5000 photos against 100).
Benchmarks print numbers; nothing here asserts on time. The README's two goals for Snakemake's
own overhead (500 models planned in < 5 s, a no-op dry run of the built default config in < 1.5 s)
get a verdict row each, judged on the median of several runs (bench/workflow_overhead.py).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench.workflow_overhead's GOALS for the verdict rows
    sys.path.insert(0, str(ROOT))


class Row(NamedTuple):
    measured: str
    maskflow: str
    baseline: str = ""
    ratio: str = ""


def times_better(baseline: float, maskflow: float, word: str = "faster") -> str:
    """'4.2x faster' when maskflow's cost is lower, '0.80x (slower)' when higher, '1.02x (same)' within 5 %;
    'n/a' when maskflow's figure is 0 (too small to measure: no ratio to give)."""
    if not maskflow:
        return "n/a"
    ratio = baseline / maskflow
    if abs(ratio - 1) < 0.05:
        return f"{ratio:.2f}x (same)"
    if ratio < 1:
        return f"{ratio:.2f}x (slower)"
    return f"{ratio:.1f}x {word}" if ratio >= 2 else f"{ratio:.2f}x {word}"


def growth(large: float, small: float, flat: str, tolerance: float = 0.25) -> str:
    """'1.04x (flat)' when `large` is within `tolerance` of `small`, else '3.10x (grows)'."""
    if not small:  # e.g. peak memory where /proc is missing (macOS): no ratio to give
        return "n/a"
    ratio = large / small
    return f"{ratio:.2f}x ({flat if abs(ratio - 1) <= tolerance else 'grows' if ratio > 1 else 'shrinks'})"


# ---------------------------------------------------------------- figures -> table rows, per benchmark


def preprocess_rows(f: dict) -> list[Row]:
    size = f"{f['photos']} photos, {f['crops']} crops"
    return [
        Row(
            f"Cache step, 1 core: crops per CPU second vs a per-row PIL script ({size})",
            f"{f['maskflow_crops_per_s']:.0f} crops/s",
            f"{f['naive_crops_per_s']:.0f} crops/s",
            times_better(f["naive_cpu_s"], f["maskflow_cpu_s"]),
        ),
        Row(
            f"Cache step CPU time vs only decoding each photo once, at the JPEG scale maskflow uses ({size})",
            f"{f['maskflow_cpu_s']:.2f} s",
            f"{f['decode_scaled_cpu_s']:.2f} s",
            f"{f['time_vs_decode_scaled']:.2f}x the decode's time (goal at most 1.2x)",
        ),
        Row(
            f"Cache step CPU time vs only decoding each photo once, full size ({size})",
            f"{f['maskflow_cpu_s']:.2f} s",
            f"{f['decode_only_cpu_s']:.2f} s",
            times_better(f["decode_only_cpu_s"], f["maskflow_cpu_s"]),
        ),
    ]


def train_epoch_rows(f: dict) -> list[Row]:
    """Per model and device: the epoch against the physical floor, then against ImageFolder +
    DataLoader at its fastest worker count (epoch, and input batches alone)."""
    rows = []
    for key, figures in f.items():
        if not isinstance(figures, dict):
            continue
        model, device, *threads = key.split("/")  # cpu keys end in their torch thread count: 1t, 2t
        on = f"{device}, {threads[0][:-1]} torch thread{'s' if threads[0] != '1t' else ''}" if threads else device
        what = f"{model} on {on} ({f['crops']} crops, batch {f['batch_size']})"
        over = figures["maskflow_epoch_s"] / figures["floor_epoch_s"]
        rows.append(
            Row(
                f"s per training epoch, {what} vs the floor: the same model's steps over batches already in memory",
                f"{figures['maskflow_epoch_s']:.3f} s",
                f"{figures['floor_epoch_s']:.3f} s",
                f"{over:.2f}x the floor (goal at most 1.15: {'met' if over <= 1.15 else 'missed'})",
            )
        )
        workers = sorted(
            int(name[len("torchvision_w") : -len("_epoch_s")])
            for name in figures
            if name.endswith("_epoch_s") and name.startswith("torchvision_w")
        )
        for part, label in (("epoch", "s per training epoch"), ("pipeline", "s per epoch of input batches alone")):
            n = min(workers, key=lambda w: figures[f"torchvision_w{w}_{part}_s"])  # the baseline at its fastest
            rows.append(
                Row(
                    f"{label}, {what} vs ImageFolder+DataLoader at its fastest: {n} workers (of {', '.join(map(str, workers))})",
                    f"{figures[f'maskflow_{part}_s']:.3f} s",
                    f"{figures[f'torchvision_w{n}_{part}_s']:.3f} s",
                    times_better(figures[f"torchvision_w{n}_{part}_s"], figures[f"maskflow_{part}_s"]),
                )
            )
    return rows


def data_scaling_rows(f: dict) -> list[Row]:
    runs = {key: value for key, value in f.items() if isinstance(value, dict)}
    one, *more = f["threads"]
    rows = []
    for photos in sorted({run["photos"] for run in runs.values()}):
        base = runs[f"{photos}_photos/{one}_threads"]
        for threads in more:
            run = runs[f"{photos}_photos/{threads}_threads"]
            rows.append(
                Row(
                    f"Cache step, {photos} photos ({run['crops']} crops): {threads} threads vs {one}",
                    f"{run['crops_per_s']:.0f} crops/s",
                    f"{base['crops_per_s']:.0f} crops/s",
                    f"{run['crops_per_s'] / base['crops_per_s']:.2f}x speed-up",
                )
            )
    small, large = (min(runs.values(), key=lambda r: r["photos"]), max(runs.values(), key=lambda r: r["photos"]))
    if large["photos"] > small["photos"]:
        per = f"{one} thread{'s' if one > 1 else ''}"
        first = runs[f"{small['photos']}_photos/{one}_threads"]
        last = runs[f"{large['photos']}_photos/{one}_threads"]
        rows += [
            Row(
                f"Cache step crops/s, {large['photos']} photos vs {small['photos']} ({per})",
                f"{last['crops_per_s']:.0f} crops/s",
                f"{first['crops_per_s']:.0f} crops/s",
                growth(last["crops_per_s"], first["crops_per_s"], "throughput holds"),
            ),
            Row(
                f"Cache step peak anonymous memory, {large['photos']} photos vs {small['photos']} (decoded photos are not held)",
                f"{large['peak_anon_mb']:.0f} MB",
                f"{small['peak_anon_mb']:.0f} MB",
                growth(large["peak_anon_mb"], small["peak_anon_mb"], "flat"),
            ),
            Row(
                f"Cache step peak RSS incl. the {large['output_mb']:.0f} MB output array, {large['photos']} photos vs {small['photos']}",
                f"{large['peak_rss_mb']:.0f} MB",
                f"{small['peak_rss_mb']:.0f} MB",
                growth(large["peak_rss_mb"], small["peak_rss_mb"], "flat"),
            ),
        ]
    return rows


def goal_row(goal: str, judged: dict | None) -> Row:
    """A README goal of bench/workflow_overhead.py (GOALS): the median of several runs and its verdict."""
    from bench.workflow_overhead import GOALS

    seconds, what = GOALS[goal]
    if judged is None:
        return Row(f"{what}, goal < {seconds:g} s", "not measured", ratio="no verdict")
    return Row(
        f"{what}, goal < {judged['goal_s']:g} s",
        f"median of {judged['runs']} runs {judged['median_s']:.2f} s ({judged['min_s']:.2f}-{judged['max_s']:.2f})",
        ratio=f"goal {judged['verdict']}",
    )


def workflow_overhead_rows(f: dict) -> list[Row]:
    from bench.workflow_overhead import GOALS

    rows = []
    for name in [
        key[len("dry_run_") : -len("_jobs")] for key in f if key.startswith("dry_run_") and key.endswith("_jobs")
    ]:
        label = "default config" if name == "default" else name.replace("_", " ") + " (tiny config + a sweep)"
        rows.append(
            Row(
                f"`snakemake -n all` (plan only), {label}, {f[f'dry_run_{name}_jobs']} jobs, best run",
                f"{f[f'dry_run_{name}_s']:.2f} s ({f[f'dry_run_{name}_cpu_s']:.2f} CPU s)",
            )
        )
    rows += [goal_row(goal, f.get(goal)) for goal in GOALS]
    if "noop_s" in f:
        rows.append(
            Row(
                f"`snakemake all` with everything built (no-op), {f['noop_config']}",
                f"{f['noop_s']:.2f} s ({f['noop_cpu_s']:.2f} CPU s)",
            )
        )
    if (f.get("slurm_probe_s") or 0) > 1:
        rows.append(
            Row(
                "Not in the rows above: the slurm plugin's `scontrol` probe at every Snakemake start "
                "(SLURM tools installed here, no controller running)",
                f"+{f['slurm_probe_s']:.1f} s",
            )
        )
    return rows


def incremental_rows(f: dict) -> list[Row]:
    rows = []
    labels = {"lr": "one model's learning rate", "figure": "one figure option of that model"}
    for edit, label in labels.items():
        ok = "as expected" if f[f"{edit}_ok"] else f"UNEXPECTED: {', '.join(f[f'{edit}_unexpected'][:5])}"
        rows.append(
            Row(
                f"Jobs rerun after editing {label} ({f['config']}; {f[f'{edit}_trained']} trained, {ok})",
                f"{f[f'{edit}_jobs']} jobs",
                f"{f['full_jobs']} jobs (full build)",
                times_better(f["full_jobs"], f[f"{edit}_jobs"], "fewer"),
            )
        )
        rows.append(
            Row(
                "Wall time of that rerun vs the full build",
                f"{f[f'{edit}_s']:.0f} s",
                f"{f['full_s']:.0f} s",
                times_better(f["full_s"], f[f"{edit}_s"]),
            )
        )
    return rows


def end_to_end_rows(f: dict) -> list[Row]:
    return [
        Row(
            f"`snakemake --cores {f['cores']} all`, {f['config']}, from nothing ({f['jobs']} jobs, {os.cpu_count()} cores)",
            f"{f['wall_s'] / 60:.1f} min ({f['cpu_s'] / 60:.0f} CPU min)",
        ),
        Row(
            f"Training, {f['models']} models: train jobs' wall time summed (training loop alone)",
            f"{f['train_job_s']:.0f} s ({f['train_epochs_s']:.0f} s)",
        ),
        Row(
            f"`snakemake all` with everything built (no-op), {f['config']}",
            f"{f['noop_s']:.1f} s ({f['noop_cpu_s']:.1f} CPU s)",
        ),
    ]


def sweep_overhead_rows(f: dict) -> list[Row]:
    rows = [
        Row(
            f"Sweep of {f['members']} NumPy DNNs on digits (train and evaluate each, recorded by the run history; the sweep's table "
            f"and plots), `--cores {f['cores']}`; goal: 100 in at most 60 s",
            f"{f['wall_s']:.0f} s, {f['members_per_min']:.0f} members/min",
        ),
        Row(
            "CPU seconds per NumPy member beyond its own train + evaluate jobs (goal: at most 1)",
            f"{f['beyond_own_cpu_per_member_s']:.2f} CPU s",
        ),
    ]
    if "torch" in f:
        t = f["torch"]
        rows.append(
            Row(
                f"CPU seconds per torch member ({t['members']} MLPs) beyond its own train + evaluate jobs (goal: at most 1)",
                f"{t['beyond_own_cpu_per_member_s']:.2f} CPU s",
            )
        )
    rows += [
        Row(
            "CPU seconds per sweep member: the Snakemake process itself / its jobs",
            f"{f['snakemake_cpu_s'] / f['members']:.2f} / {f['jobs_cpu_s'] / f['members']:.2f} CPU s",
        ),
        Row("Peak memory of any job of that sweep (goal: under 250 MB)", f"{f['peak_mb']:.0f} MB"),
    ]
    sizes = sorted(int(key.split("_")[1]) for key in f if key.startswith("dag_") and key.endswith("_jobs"))
    for size in sizes:
        rows.append(
            Row(
                f"`snakemake -n all`, a sweep of {size} members ({f[f'dag_{size}_jobs']} jobs)",
                f"{f[f'dag_{size}_s']:.2f} s ({f[f'dag_{size}_cpu_s']:.2f} CPU s)",
            )
        )
    return rows


def planning_rows(f: dict) -> list[Row]:
    goals = {1000: "; goal: at most 5 s", 10000: "; goal: at most 60 s"}
    rows = [
        Row(
            f"`snakemake -n all` from nothing, a sweep of {size} members ({row['jobs']} jobs){goals.get(size, '')}",
            f"{row['wall_s']:.2f} s ({row['cpu_s']:.2f} CPU s)",
        )
        for size, row in sorted(f["sizes"].items())
    ]
    rows += [
        Row(
            f"Planning cost per added member, {step['from']} to {step['to']} members",
            f"{step['wall_ms_per_member']:.2f} ms ({step['cpu_ms_per_member']:.2f} CPU ms)",
        )
        for step in f["growth"]
    ]
    if "growth_ratio" in f:
        rows.append(
            Row(
                "Linear planning: the last step's cost per member over the first's (goal: at most 1.5x)",
                f"{f['growth_ratio']:.2f}x",
            )
        )
    return rows


class Benchmark(NamedTuple):
    full: list[str]  # arguments of a normal run
    quick: list[str] | None  # arguments under --quick; None: skipped under --quick
    rows: Callable[[dict], list[Row]]


# Run in this order: incremental builds the tiny config and end_to_end the default one, whose
# no-op runs workflow_overhead then times (the no-op dry-run goal needs the default config built).
BENCHMARKS: dict[str, Benchmark] = {
    "preprocess": Benchmark([], ["--photos", "30", "--repeats", "1"], preprocess_rows),
    "train_epoch": Benchmark(
        [], ["--models", "cnn_baseline", "--epochs", "1", "--crops", "600", "--threads", "1", "2"], train_epoch_rows
    ),
    "data_scaling": Benchmark(["--generate-jobs", "2"], ["--photos", "100", "300"], data_scaling_rows),
    "incremental": Benchmark([], [], incremental_rows),
    "sweep_overhead": Benchmark(
        [],
        ["--members", "20", "--torch-members", "2", "--dag-sizes", "100", "--repeats", "1"],
        sweep_overhead_rows,
    ),
    "planning": Benchmark([], ["--sizes", "100", "1000", "--repeats", "1"], planning_rows),
    "end_to_end": Benchmark([], None, end_to_end_rows),
    "workflow_overhead": Benchmark([], ["--models", "10", "100", "--repeats", "3"], workflow_overhead_rows),
}


def shared_tiny_args(name: str, tiny: Path, results: dict) -> list[str]:
    """incremental builds the tiny config in `tiny` and end_to_end the default one beside it;
    workflow_overhead then times their no-op runs there."""
    built = tiny.parent / "default"
    if name == "incremental":
        return ["--workdir", str(tiny)]
    if name == "end_to_end":
        return ["--workdir", str(built)]
    args = []
    if name == "workflow_overhead" and "incremental" in results:
        args += ["--noop-workdir", str(tiny), "--noop-config", str(tiny / "figure.yaml")]
    if name == "workflow_overhead" and "end_to_end" in results:
        args += ["--default-built", str(built)]
    return args


# ---------------------------------------------------------------- running, machine, table


def run_benchmark(name: str, argv: list[str]) -> dict:
    """main(argv) of bench/<name>.py in a fresh process; its figures come back as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        process = subprocess.run([sys.executable, __file__, "--child", name, str(out), *argv], cwd=ROOT)
        if process.returncode != 0:
            raise RuntimeError(f"bench/{name}.py {' '.join(argv)} exited with {process.returncode}")
        return json.loads(out.read_text())


def child(name: str, out: str, argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    figures = importlib.import_module(f"bench.{name}").main(argv)
    Path(out).write_text(
        json.dumps(figures, default=lambda value: value.item() if hasattr(value, "item") else str(value))
    )


def machine() -> str:
    """CPU, cores, memory, GPU and versions, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    memory = (
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else float("nan")
    )
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, {gpu}; {platform.system()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )


def markdown(rows: list[tuple[str, Row]]) -> str:
    header = Row("measured", "maskflow", "baseline", "ratio")
    table = [("benchmark", header), *rows]
    widths = [max(len(r[0]) for r in table), *(max(len(r[1][i]) for r in table) for i in range(4))]
    lines = []
    for position, (name, row) in enumerate(table):
        cells = [name, *row]
        lines.append("| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |")
        if position == 0:
            lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[tuple[str, Row]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; skips end_to_end")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run these benchmarks only")
    parser.add_argument("--skip", nargs="+", choices=list(BENCHMARKS), default=[], help="benchmarks to leave out")
    parser.add_argument("--markdown", type=Path, help="also write the table (and the machine) to this markdown file")
    args = parser.parse_args(argv)

    chosen = [n for n in BENCHMARKS if (n in args.only if args.only else True) and n not in args.skip]
    if args.quick:
        chosen = [n for n in chosen if BENCHMARKS[n].quick is not None]
    rows: list[tuple[str, Row]] = []
    results: dict[str, dict] = {}
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            bench = BENCHMARKS[name]
            argv_of = (bench.quick if args.quick else bench.full) + shared_tiny_args(name, Path(tmp) / "tiny", results)
            print(f"\n===== bench/{name}.py {' '.join(argv_of)}", flush=True)
            started = time.perf_counter()
            try:
                results[name] = run_benchmark(name, argv_of)
                rows += [(name, row) for row in bench.rows(results[name])]
            except Exception as error:  # one failing benchmark must not lose the others' figures
                failed.append(name)
                rows.append((name, Row(f"FAILED: {error}", "")))
            print(f"===== bench/{name}.py took {time.perf_counter() - started:.0f} s", flush=True)

    taken = f"Taken {datetime.date.today().isoformat()} on: {machine()}."
    table = markdown(rows)
    print(f"\n{taken}\n\n{table}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(f"{taken}\n\n{table}\n")
        print(f"\nwritten to {args.markdown}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        main()
