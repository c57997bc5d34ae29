"""Benchmark: the whole default experiment, end to end, and what each model's training costs.

    .venv/bin/python bench/end_to_end.py                          # config.yaml, --cores 8, temp folder
    .venv/bin/python bench/end_to_end.py --cores 2 --workdir /tmp/e2e --config tests/config/tiny.yaml

Runs `snakemake --cores N all` from nothing in a fresh folder (photos generated, cached,
every model trained, evaluated and drawn, compared, reported) and prints its wall time, then
per model: the train job's wall time and peak memory (Snakemake's benchmark file,
results/{dataset}/benchmarks/train/{model}.tsv: process start and imports included) and the
sum of its epochs' `seconds` (history.csv: the training loop alone). Last, a no-op
`snakemake all` on the built tree. Takes minutes: run it on a quiet machine (the load average
at the start is printed). `main()` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.workflow_overhead import job_counts, noop_seconds, timed  # noqa: E402


def training_costs(workdir: Path) -> pd.DataFrame:
    """One row per trained model: dataset, epochs, job seconds and peak MB, epoch seconds summed."""
    rows = []
    for tsv in sorted(workdir.glob("results/*/benchmarks/train/*.tsv")):
        dataset, model = tsv.parts[-4], tsv.stem
        job = pd.read_csv(tsv, sep="\t").iloc[-1]
        history = pd.read_csv(workdir / "results" / dataset / "models" / model / "history.csv")
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "epochs": len(history),
                "job_s": float(job["s"]),
                "epochs_s": float(history["seconds"].sum()),
                "max_rss_mb": float(job["max_rss"]),
            }
        )
    return pd.DataFrame(rows, columns=["dataset", "model", "epochs", "job_s", "epochs_s", "max_rss_mb"])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--cores", type=int, default=8, help="Snakemake --cores (jobs share the machine's real cores)")
    parser.add_argument("--workdir", type=Path, help="an empty folder to build in and keep (default: a temporary one)")
    parser.add_argument("--noop-repeats", type=int, default=1)
    args = parser.parse_args(argv)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.config.name}: snakemake --cores {args.cores} all on {os.cpu_count()} cores (load average {load:.2f} at start)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        wall, cpu, log = timed(workdir, args.config.resolve(), "all", cores=args.cores)
        jobs = sum(job_counts(log).values())
        costs = training_costs(workdir)
        cache_tsv = list(workdir.glob("results/*/benchmarks/cache.tsv"))
        cache_s = {path.parts[-3]: float(pd.read_csv(path, sep="\t")["s"].iloc[-1]) for path in cache_tsv}
        noop, noop_cpu = noop_seconds(workdir, args.config.resolve(), args.noop_repeats)

    print(
        f"\nwall time {wall:.0f} s ({wall / 60:.1f} min), {cpu / 60:.1f} CPU min, for {jobs} jobs; no-op rerun {noop:.1f} s ({noop_cpu:.1f} CPU s)"
    )
    print(f"cache step: {', '.join(f'{d} {s:.1f} s' for d, s in cache_s.items())}")
    print(f"\n{'dataset':<8}{'model':<28}{'epochs':>7}{'job s':>8}{'epochs s':>10}{'peak MB':>9}")
    for row in costs.itertuples():
        print(
            f"{row.dataset:<8}{row.model:<28}{row.epochs:>7}{row.job_s:>8.1f}{row.epochs_s:>10.1f}{row.max_rss_mb:>9.0f}"
        )
    print(f"{'sum':<36}{costs['epochs'].sum():>7}{costs['job_s'].sum():>8.1f}{costs['epochs_s'].sum():>10.1f}")
    print(
        "job s: the train job (process start, imports, data load, training, checkpoints); epochs s: the training loop alone"
    )
    return {
        "config": args.config.name,
        "cores": args.cores,
        "load_at_start": load,
        "wall_s": wall,
        "cpu_s": cpu,
        "jobs": jobs,
        "noop_s": noop,
        "noop_cpu_s": noop_cpu,
        "cache_s": cache_s,
        "models": len(costs),
        "train_job_s": float(costs["job_s"].sum()),
        "train_epochs_s": float(costs["epochs_s"].sum()),
        "per_model": {
            f"{r.dataset}/{r.model}": {"job_s": r.job_s, "epochs_s": r.epochs_s, "epochs": r.epochs}
            for r in costs.itertuples()
        },
    }


if __name__ == "__main__":
    main()
