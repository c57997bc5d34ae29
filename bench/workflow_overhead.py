"""Benchmark: Snakemake's own overhead for maskflow's DAG as the number of models grows.

Times `snakemake -n all` (DAG construction, no job runs) for the default config with its
models plus a sweep that adds models until 10, 100 and 500 are configured. Goal: under 3 s for
the default config and under 15 s for 500 models.

    .venv/bin/python bench/workflow_overhead.py [--models 10 100 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


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
    command = [
        sys.executable, "-m", "snakemake", "-n", "--cores", "2", "all",
        "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", str(config_path),
    ]
    best = float("inf")
    jobs = 0
    for _ in range(repeats):
        start = time.perf_counter()
        process = subprocess.run(command, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        if process.returncode != 0:
            raise RuntimeError(process.stderr[-2000:])
        match = re.search(r"^total\s+(\d+)", process.stdout, re.MULTILINE)
        jobs = int(match.group(1)) if match else 0
    return best, jobs


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--repeats", type=int, default=3)
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
    return figures


if __name__ == "__main__":
    main()
