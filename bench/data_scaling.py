"""Benchmark: how the cache step scales with photos and threads, and what memory it needs.

    .venv/bin/python bench/data_scaling.py                         # 100, 1000 and 5000 photos, 1 and 2 threads
    .venv/bin/python bench/data_scaling.py --photos 100 1000 --threads 1 2 --generate-jobs 2

For each photo count and thread count, `maskflow.data.cache.build_cache` (what `maskflow cache`
runs: every photo decoded once, crops written into a memory-mapped .npy) runs in a fresh
Python process on generated photos (maskflow.sources.synthetic, ~1600 px JPEGs, 5-7 faces
each), so each measurement has its own peak memory. Printed per run: crops per second (wall
and per CPU second), the 2-thread speed-up, and memory:

- peak RSS (VmHWM): everything resident, including the pages of the output array the step
  writes through its memory map (N x 32 x 32 x 3 bytes; file-backed, the kernel may write
  them out and drop them at any time);
- peak anonymous memory (RssAnon, sampled every 10 ms): the process's own heap, what a step
  that held every decoded photo would blow up. This is the figure that must stay flat.

Photo generation is not timed. Photos are generated in chunks of 100 (chunk k from seed
`seed + k`, so a set of n photos is the first n photos of the chunks) and kept under
bench/out/photos/ (git-ignored): a later run with the same generation arguments reuses them.
`main()` returns the figures as a dict (bench/run_all.py imports it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
CHUNK = 100  # photos per generated chunk
CLASSES = ["good", "bad", "none"]
PREPROCESS = {"size": 32, "channels": "rgb", "margin": 0.1, "square": True}  # config.yaml's masks
GENERATION = {"min_width": 1500, "max_width": 1700, "faces": (5, 7), "test_fraction": 0.2}  # as bench/preprocess.py


# ---------------------------------------------------------------- photo sets (generated once, kept)


def chunk_dir(seed: int, index: int) -> Path:
    g = GENERATION
    key = f"seed{seed}-w{g['min_width']}-{g['max_width']}-f{g['faces'][0]}-{g['faces'][1]}-c{CHUNK}"
    return OUT / "photos" / key / f"chunk{index:04d}"


def generate_chunk(seed: int, index: int) -> Path:
    """Generate chunk `index` unless it is complete already; rows.csv, written last, marks it complete."""
    from maskflow.io import atomic
    from maskflow.sources.synthetic import generate

    folder = chunk_dir(seed, index)
    if not (folder / "rows.csv").is_file():
        generate(folder, photos=CHUNK, seed=seed + index, **GENERATION)
        tables = [pd.read_csv(folder / name, keep_default_na=False) for name in ("train.csv", "test.csv")]
        atomic.write_csv(folder / "rows.csv", pd.concat(tables, ignore_index=True))
    return folder


def photo_rows(photos: int, seed: int, jobs: int) -> tuple[Path, pd.DataFrame]:
    """The first `photos` photos of the chunks as annotations.csv rows (split train), paths relative
    to the photo-set folder."""
    chunks = -(-photos // CHUNK)
    missing = [k for k in range(chunks) if not (chunk_dir(seed, k) / "rows.csv").is_file()]
    if missing:
        print(
            f"generating {len(missing) * CHUNK} photos in {len(missing)} chunks ({jobs} processes), kept in {chunk_dir(seed, 0).parent}"
        )
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(generate_chunk, [seed] * len(missing), missing))
        print(f"  generated in {time.perf_counter() - started:.0f} s (not timed below)")
    tables = []
    for k in range(chunks):
        table = pd.read_csv(chunk_dir(seed, k) / "rows.csv", keep_default_na=False)
        table["row_id"] = [f"chunk{k:04d}/rows.csv:{line}" for line in range(2, len(table) + 2)]
        table["photo"] = f"chunk{k:04d}/images/" + table["filename"]
        tables.append(table)
    rows = pd.concat(tables, ignore_index=True)
    keep = rows["photo"].isin(rows["photo"].drop_duplicates().iloc[:photos])
    rows = rows[keep].reset_index(drop=True)
    rows["label_index"] = rows["label"].map(CLASSES.index)
    rows["split"] = "train"  # one split: a single output array as large as the photo set makes
    columns = ["row_id", "photo", "xmin", "ymin", "xmax", "ymax", "label", "label_index", "split"]
    return chunk_dir(seed, 0).parent, rows[columns]


def warm_page_cache(raw_dir: Path, rows: pd.DataFrame) -> None:
    """Read every photo's bytes once, so no run pays for the disk and all compare alike."""
    for photo in rows["photo"].unique():
        (raw_dir / photo).read_bytes()


# ---------------------------------------------------------------- one measurement (child process)


def status_kb(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status, in kB (None where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakSampler(threading.Thread):
    """Highest value of a /proc/self/status field, read every `interval` seconds. The kernel
    keeps a high-water mark for the whole RSS (VmHWM) but not for its anonymous part."""

    def __init__(self, field: str, interval: float = 0.01):
        super().__init__(daemon=True)
        self.field, self.interval, self.peak = field, interval, status_kb(field)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak or 0, status_kb(self.field) or 0)

    def stop(self) -> int | None:
        self.done.set()
        self.join()
        return self.peak


def measure_child(raw_dir: Path, annotations: Path, threads: int) -> dict:
    """Run the cache step once in this (fresh) process; return its time and memory."""
    import resource

    from maskflow.data.cache import build_cache

    spec = {"preprocess": PREPROCESS, "annotations": {"format": "bbox_csv"}, "classes": CLASSES}
    before_kb, anon_before_kb = status_kb("VmRSS"), status_kb("RssAnon")
    sampler = PeakSampler("RssAnon")
    sampler.start()
    with tempfile.TemporaryDirectory(dir=OUT) as out_dir:
        wall, cpu = time.perf_counter(), time.process_time()
        counts = build_cache(raw_dir, annotations, spec, Path(out_dir), threads=threads)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    anon_kb = sampler.stop()
    # ru_maxrss is kB on Linux and bytes on macOS; VmHWM (Linux) is kB.
    hwm_kb = status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (
        1024 if sys.platform == "darwin" else 1
    )
    return {
        "crops": sum(counts.values()),
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": (before_kb or 0) / 1024,
        "anon_before_mb": (anon_before_kb or 0) / 1024,
        "peak_rss_mb": hwm_kb / 1024,
        "peak_anon_mb": (anon_kb or 0) / 1024,
    }


def measure(raw_dir: Path, annotations: Path, threads: int, repeats: int) -> dict:
    """Best of `repeats` fresh processes (by wall time); peak memory is the largest seen."""
    command = [sys.executable, __file__, "--child", str(raw_dir), str(annotations), str(threads)]
    runs = []
    for _ in range(repeats):
        process = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if process.returncode != 0:
            raise RuntimeError(f"cache step failed:\n{process.stderr[-3000:]}")
        runs.append(json.loads(process.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda run: run["wall_s"])
    return {
        **best,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "peak_anon_mb": max(r["peak_anon_mb"] for r in runs),
    }


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="cache threads to time (the first is the speed-up's base)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per measurement (best wall time kept)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--generate-jobs", type=int, default=1, help="processes generating missing photos (not timed)")
    args = parser.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    photo_rows(max(args.photos), args.seed, args.generate_jobs)  # generate what is missing, before timing anything
    figures: dict = {"threads": args.threads}
    print(
        f"cache step ({PREPROCESS['size']}x{PREPROCESS['size']} rgb crops, margin 0.1, square), one fresh process per run"
    )
    print(
        f"{'photos':>7}{'crops':>8}{'threads':>8}{'wall s':>8}{'crops/s':>9}{'CPU s':>8}{'crops/CPU s':>12}"
        f"{'speed-up':>9}{'peak RSS MB':>12}{'output MB':>10}{'peak anon MB':>13}"
    )
    for photos in sorted(args.photos):
        raw_dir, rows = photo_rows(photos, args.seed, args.generate_jobs)
        warm_page_cache(raw_dir, rows)
        output_mb = len(rows) * PREPROCESS["size"] ** 2 * 3 / 2**20
        with tempfile.TemporaryDirectory(dir=OUT) as tmp:
            annotations = Path(tmp) / "annotations.csv"
            rows.to_csv(annotations, index=False)
            for threads in args.threads:
                run = measure(raw_dir, annotations, threads, args.repeats)
                rate = run["crops"] / run["wall_s"]
                base = figures.get(f"{photos}_photos/{args.threads[0]}_threads", {}).get("crops_per_s", rate)
                run.update(
                    photos=photos,
                    threads=threads,
                    crops_per_s=rate,
                    crops_per_cpu_s=run["crops"] / run["cpu_s"],
                    speedup=rate / base,
                    output_mb=output_mb,
                )
                figures[f"{photos}_photos/{threads}_threads"] = run
                print(
                    f"{photos:>7}{run['crops']:>8}{threads:>8}{run['wall_s']:>8.2f}{rate:>9.0f}{run['cpu_s']:>8.2f}"
                    f"{run['crops_per_cpu_s']:>12.0f}{run['speedup']:>9.2f}{run['peak_rss_mb']:>12.0f}{output_mb:>10.1f}"
                    f"{run['peak_anon_mb']:>13.0f}"
                )
    runs = [value for value in figures.values() if isinstance(value, dict)]
    small, large = min(runs, key=lambda r: r["photos"]), max(runs, key=lambda r: r["photos"])
    figures["anon_growth_mb"] = large["peak_anon_mb"] - small["peak_anon_mb"]
    figures["rss_growth_beyond_output_mb"] = (large["peak_rss_mb"] - large["output_mb"]) - (
        small["peak_rss_mb"] - small["output_mb"]
    )
    print(
        f"\n{small['photos']} -> {large['photos']} photos: peak anonymous memory {small['peak_anon_mb']:.0f} -> "
        f"{large['peak_anon_mb']:.0f} MB ({large['anon_before_mb']:.0f} MB of it after imports, before the step); "
        f"peak RSS less the output array {small['peak_rss_mb'] - small['output_mb']:.0f} -> "
        f"{large['peak_rss_mb'] - large['output_mb']:.0f} MB"
    )
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(measure_child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
