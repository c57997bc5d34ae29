"""Benchmark: what the run history (MLflow tracking, docs/history.md) costs.

    .venv/bin/python bench/tracking_overhead.py                  # config.yaml, tracking on vs off (long)
    .venv/bin/python bench/tracking_overhead.py --quick          # tests/config/tiny.yaml, no fresh install
    .venv/bin/python bench/tracking_overhead.py --config configs/mnist.yaml --cores 8

Prints, for one config built from nothing in two temp folders (one with `tracking.enabled:
false`): the wall and CPU seconds of `snakemake all` with and without tracking and their
difference (goal: at most 15 s more on the 2-core machine for config.yaml), the seconds of each
tracking job (rule `track`, from its benchmark file; sweep members have none: each dataset's
history job builds their records) and each dataset's history job, `import mlflow` (each dataset's logging job, track_history, pays it once), the no-op dry run of the built
tree with tracking (goal: under 1.5 s), and what installing tracking adds to `make run`: the
size on disk of the distributions only the tracking dependencies pull in, and (not with
--quick) the seconds of `pip install mlflow-skinny==... sqlalchemy alembic` into a fresh venv.
`main()` returns the figures as a dict. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.workflow_overhead import TINY_CONFIG, timed  # noqa: E402

TRACKING_REQUIREMENTS = ("mlflow-skinny", "sqlalchemy", "alembic")


def config_without_tracking(config: Path, folder: Path) -> Path:
    data = yaml.safe_load(config.read_text())
    data["tracking"] = {**(data.get("tracking") or {}), "enabled": False}
    path = folder / f"{config.stem}-no-tracking.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def benchmark_seconds(path: Path) -> float:
    with open(path, newline="") as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["s"])


def track_seconds(workdir: Path) -> dict[str, float]:
    """model -> seconds of its tracking job (Snakemake's benchmark file); sweep members have none."""
    return {path.stem: benchmark_seconds(path) for path in workdir.glob("results/*/benchmarks/track/*.tsv")}


def history_seconds(workdir: Path) -> dict[str, float]:
    """dataset -> seconds of its run-history job (logging every record, building the sweep members')."""
    return {path.parts[-3]: benchmark_seconds(path) for path in workdir.glob("results/*/benchmarks/track_history.tsv")}


def sweep_members(config: Path) -> set[str]:
    from maskflow.config import load_and_check

    resolved = load_and_check(yaml.safe_load(config.read_text()), ROOT / "workflow" / "schemas" / "config.schema.yaml")
    return {name for name, spec in resolved["models"].items() if spec.get("sweep")}


def import_seconds(module: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env={"MLFLOW_DISABLE_TELEMETRY": "true"})
        best = min(best, time.perf_counter() - start)
    return best


def closure(names, seen=None) -> set[str]:
    """Distributions `names` need, recursively (installed ones only, extras ignored)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen = set() if seen is None else seen
    for name in names:
        key = canonicalize_name(name)
        if key in seen:
            continue
        try:
            requires = metadata.requires(key) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(key)
        needed = [Requirement(r) for r in requires]
        closure([r.name for r in needed if not r.marker or r.marker.evaluate({"extra": ""})], seen)
    return seen


def install_footprint() -> tuple[int, list[str]]:
    """(bytes on disk, names) of the distributions only the tracking requirements bring in."""
    from packaging.requirements import Requirement

    maskflow = [Requirement(r).name for r in metadata.requires("maskflow") or [] if "extra" not in r]
    others = closure([name for name in maskflow if name.lower() not in TRACKING_REQUIREMENTS])
    only = sorted(closure(TRACKING_REQUIREMENTS) - others)
    total = 0
    for name in only:
        for file in metadata.distribution(name).files or []:
            path = Path(file.locate())
            total += path.stat().st_size if path.is_file() else 0
    return total, only


def install_seconds() -> float:
    """pip install of the tracking requirements (maskflow's pins, read from pyproject.toml: an
    editable install's metadata can be older than the file) into a fresh venv."""
    import tomllib

    from packaging.requirements import Requirement

    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [r for r in requirements if Requirement(r).name.lower() in TRACKING_REQUIREMENTS]
    if len(pins) != len(TRACKING_REQUIREMENTS):
        raise SystemExit(f"pyproject.toml pins {pins}, not each of {TRACKING_REQUIREMENTS}")
    with tempfile.TemporaryDirectory(prefix="maskflow-bench-venv-") as folder:
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        start = time.perf_counter()
        subprocess.run([f"{folder}/bin/pip", "install", "--quiet", *pins], check=True)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--quick", action="store_true", help="tests/config/tiny.yaml, no fresh-venv install")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    config = TINY_CONFIG if args.quick else args.config
    figures: dict = {"config": str(config)}
    with tempfile.TemporaryDirectory(prefix="maskflow-bench-tracking-") as tmp:
        tmp = Path(tmp)
        off_config = config_without_tracking(config, tmp)
        for label, path in (("off", off_config), ("on", config)):
            workdir = tmp / label
            workdir.mkdir()
            wall, cpu, _ = timed(workdir, path, "all", cores=args.cores)
            figures[f"wall_s_{label}"], figures[f"cpu_s_{label}"] = wall, cpu
            print(f"snakemake all, tracking {label}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
        figures["wall_s_added"] = figures["wall_s_on"] - figures["wall_s_off"]
        figures["cpu_s_added"] = figures["cpu_s_on"] - figures["cpu_s_off"]
        print(
            f"tracking adds {figures['wall_s_added']:.1f} s wall, {figures['cpu_s_added']:.1f} s CPU (goal: at most 15 s wall)"
        )
        seconds = track_seconds(tmp / "on")
        figures["track_job_s"] = seconds
        print("tracking job seconds: " + ", ".join(f"{m} {s:.1f}" for m, s in sorted(seconds.items())))
        figures["history_job_s"] = history_seconds(tmp / "on")
        members = len(sweep_members(config))
        print(
            "run-history job seconds (MLflow import, logging, the sweep members' records): "
            + ", ".join(f"{d} {s:.1f}" for d, s in sorted(figures["history_job_s"].items()))
            + f" ({members} sweep members, no job of their own)"
        )
        dry = [timed(tmp / "on", config, "all", "-n", cores=args.cores)[0] for _ in range(3)]
        figures["noop_dry_run_s"] = min(dry)
        print(f"no-op dry run with tracking: {min(dry):.2f} s (best of 3; goal under 1.5 s)")
    figures["import_mlflow_s"] = import_seconds("mlflow")
    print(f"import mlflow: {figures['import_mlflow_s']:.2f} s (best of 3; each dataset's logging job pays it once)")
    size, names = install_footprint()
    figures["install_mb"], figures["install_distributions"] = size / 1e6, names
    print(f"install: tracking adds {size / 1e6:.0f} MB in {len(names)} distributions: {', '.join(names)}")
    if not args.quick:
        figures["install_s"] = install_seconds()
        print(f"install: pip install of the tracking pins into a fresh venv: {figures['install_s']:.0f} s")
    return figures


if __name__ == "__main__":
    main()
