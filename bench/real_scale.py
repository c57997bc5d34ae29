"""Benchmark: the presets in configs/ at the size of their real data, on generated stand-ins.

    .venv/bin/python bench/real_scale.py                        # every preset
    .venv/bin/python bench/real_scale.py --presets fer2013 mnist --no-train
    .venv/bin/python bench/real_scale.py --models fer_leaky48   # also time these models' epoch
    .venv/bin/python bench/real_scale.py --no-networks --evaluate --models fer_vgg64 fer_leaky48 mnist_cnn

Stand-ins (tests/helpers/standins.py, kept under bench/out/real_scale/ and reused): FER2013's
35,887 rows at the real class counts (Training 3,995 / 436 / 4,097 / 7,215 / 4,830 / 3,171 /
4,965, PublicTest and PrivateTest 3,589 each), MNIST's 60,000 + 10,000 digits, 850 Face Mask
Detection-sized PNGs (250-600 px, about 4,000 boxes), and a Medical Masks homework folder of
`--medical-photos` photos (480-1,600 px JPEGs; the homework's own size is not known here).

For each preset, in a fresh folder, the data stage runs step by step through its Snakemake
targets (fetch -> validate -> split -> cache -> stats, one `snakemake` run each, the preset
layered with a my-paths.yaml that points it at the stand-in, as a user does). Printed per
step: wall seconds (Snakemake's start included, about 2 s) and the peak RSS of the largest
process of that run (the job, or Snakemake itself when the job is smaller); for the cache step
also crops per second and its own max RSS from the rule's benchmark file. Then one training
epoch of each preset's main model (its dataset's `baseline`), with the model's epochs set to
1 by a second layered file: the epoch's seconds from history.csv, images per second, and the
validation accuracy after that epoch (on the stand-in: it says the model learns, nothing more).
With `--evaluate`, each of those models' evaluate job follows, as a cluster runs it (every split
and the explanations, `threads: evaluate`): seconds, CPU seconds and max RSS from the rule's
benchmark file, what a model's `cluster: evaluate` needs are sized from (issue 28).

Then, for each preset network (bench/network_epochs.py), one CPU epoch eager and one through
`torch.compile` (`train.compile: true`): seconds, images per second, the compile time, and the
epoch's FLOP rate as a fraction of this machine's fp32 matmul throughput measured in the same run
(`--network-seconds` sizes each epoch; `--no-networks` skips them, `--networks` picks some).

Goals on the project's 2-core machine: every preset's data stage under 60 s with peak memory
under 2 GB. `main()` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

import network_epochs  # noqa: E402
from workflow_overhead import snakemake_env  # noqa: E402

from helpers.standins import (  # noqa: E402
    boxes_in,
    write_face_mask_detection,
    write_fer2013,
    write_medical_masks,
    write_mnist,
)

OUT = ROOT / "bench" / "out" / "real_scale"
STEPS = {  # step -> the target that ends it (per dataset)
    "fetch": "resources/{ds}/manifest.json",
    "validate": "results/{ds}/data/validated.csv",
    "split": "results/{ds}/data/annotations.csv",
    "cache": "results/{ds}/cache/checksums.json",
    "stats": "results/{ds}/stats/class_counts.csv",
}
GOAL_SECONDS, GOAL_BYTES = 60.0, 2 << 30


def _fer(folder: Path, quick: bool) -> tuple[Path, str]:
    rows = 1_000 if quick else 35_887
    return write_fer2013(folder / "fer2013.csv", rows=rows), f"{rows:,} rows"


def _mnist(folder: Path, quick: bool) -> tuple[Path, str]:
    train, test = (2_000, 500) if quick else (60_000, 10_000)
    return write_mnist(folder / "mnist.npz", train=train, test=test), f"{train:,} + {test:,} digits"


def _face_masks(folder: Path, quick: bool) -> tuple[Path, str]:
    photos = 30 if quick else 850
    target = write_face_mask_detection(folder / "face-mask-detection", photos=photos, seed=0)
    return target, f"{photos} photos, {boxes_in(target):,} boxes"


def _medical(folder: Path, quick: bool, photos: int) -> tuple[Path, str]:
    photos = 20 if quick else photos
    target = write_medical_masks(folder / "medical-masks", photos=photos, seed=0, min_width=480, max_width=1600)
    return target, f"{photos} photos"


# preset -> config file
PRESETS = {
    "fer2013": "fer2013.yaml",
    "medical-masks": "medical-masks.yaml",
    "face-mask-detection": "face-mask-detection.yaml",
    "mnist": "mnist.yaml",
}


def standin(name: str, args) -> tuple[Path, str]:
    """The preset's stand-in, generated once per size (complete.json, written last, marks it)."""
    size = "quick" if args.quick else (f"full-{args.medical_photos}" if name == "medical-masks" else "full")
    folder = OUT / "data" / f"{name}-{size}"
    marker = folder / "complete.json"
    if marker.exists():
        done = json.loads(marker.read_text())
        return Path(done["path"]), done["what"]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    if name == "medical-masks":
        path, what = _medical(folder, args.quick, args.medical_photos)
    else:
        path, what = {"fer2013": _fer, "face-mask-detection": _face_masks, "mnist": _mnist}[name](folder, args.quick)
    print(f"{name}: stand-in generated in {time.perf_counter() - started:.0f} s ({what})", flush=True)
    marker.write_text(json.dumps({"path": str(path), "what": what}))
    return path, what


def sources_for(preset: dict, path: Path) -> dict:
    """my-paths.yaml's `datasets:`: every dataset of the preset reads the stand-in."""
    sources = {}
    for name, dataset in preset["datasets"].items():
        source = {"path": str(path)}
        if dataset["source"]["kind"] == "url":  # the local copy stands in for the download
            from maskflow.io.hashing import sha256_file

            source["sha256"] = sha256_file(path)
        sources[name] = {"source": source}
    return sources


def measured_snakemake(workdir: Path, configs: list[Path], *targets: str) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes of the largest process) of one Snakemake run, measured
    in a fresh child so that the peak is this run's alone."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", *map(str, configs), "--cores", "2", *targets]
    probe = (
        "import json, resource, subprocess, sys, time; start = time.perf_counter(); "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(json.dumps({'rc': p.returncode, 'wall': time.perf_counter() - start, "
        "'rss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'log': p.stderr[-4000:]}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, env=snakemake_env()
    )
    figures = json.loads(result.stdout)
    if figures["rc"] != 0:
        raise RuntimeError(f"snakemake {' '.join(targets)} failed:\n{figures['log']}")
    return figures["wall"], figures["rss_kb"] * 1024


def data_stage(workdir: Path, configs: list[Path], datasets: list[str]) -> dict:
    steps = {}
    for step, target in STEPS.items():
        wall, rss = measured_snakemake(workdir, configs, *(target.format(ds=ds) for ds in datasets))
        steps[step] = {"seconds": round(wall, 1), "peak_rss_mb": round(rss / 2**20)}
        print(f"  {step:9s} {wall:6.1f} s  peak {rss / 2**20:6.0f} MB", flush=True)
    for ds in datasets:
        bench = pd.read_csv(workdir / "results" / ds / "benchmarks" / "cache.tsv", sep="\t").iloc[-1]
        crops = sum(
            len(pd.read_csv(workdir / "results" / ds / "cache" / f"{s}_index.csv")) for s in ("train", "val", "test")
        )
        steps[f"cache_job_{ds}"] = {"seconds": float(bench["s"]), "max_rss_mb": float(bench["max_rss"]), "crops": crops,
                                   "crops_per_s": round(crops / float(bench["s"]))}  # fmt: skip
        print(f"  cache job {ds}: {crops:,} crops in {bench['s']:.1f} s ({crops / bench['s']:,.0f} crops/s), "
              f"max RSS {bench['max_rss']:.0f} MB", flush=True)  # fmt: skip
    return steps


def one_epoch(workdir: Path, configs: list[Path], preset: dict, model: str, evaluate: bool = False) -> dict:
    """One training epoch of `model` (its epochs set to 1, one replicate) through Snakemake;
    with `evaluate`, then its evaluate job (evaluate_job)."""
    entry = preset["models"][model]
    override = {
        "models": {model: {"train": {"epochs": 1}, **({"seeds": entry["seeds"][:1]} if "seeds" in entry else {})}}
    }
    layer = workdir / f"one-epoch-{model}.yaml"
    layer.write_text(yaml.safe_dump(override))
    name = f"{model}-s{entry['seeds'][0]}" if "seeds" in entry else model
    dataset = entry.get("dataset") or next(iter(preset["datasets"]))
    target = f"results/{dataset}/models/{name}/history.csv"
    wall, rss = measured_snakemake(workdir, [*configs, layer], target)
    history = pd.read_csv(workdir / target)
    train = len(pd.read_csv(workdir / "results" / dataset / "cache" / "train_index.csv"))
    seconds, val_acc = float(history["seconds"].iloc[0]), float(history["val_acc"].iloc[0])
    print(f"  epoch of {name}: {seconds:.1f} s ({train / seconds:,.0f} images/s; train job {wall:.0f} s, "
          f"peak {rss / 2**20:.0f} MB; val accuracy on the stand-in {val_acc:.3f})", flush=True)  # fmt: skip
    figures = {"model": name, "epoch_seconds": round(seconds, 2), "images_per_s": round(train / seconds),
               "job_seconds": round(wall, 1), "peak_rss_mb": round(rss / 2**20), "val_acc": round(val_acc, 3)}  # fmt: skip
    if evaluate:
        figures["evaluate"] = evaluate_job(workdir, configs + [layer], dataset, name)
    return figures


def evaluate_job(workdir: Path, configs: list[Path], dataset: str, name: str) -> dict:
    """The model's evaluate job as a cluster runs it (`threads: evaluate`, every split, its
    explanations; run again if it ran before): what a model's `cluster: evaluate` must hold.
    Seconds and CPU seconds from the rule's benchmark file; memory both as that file samples it
    and as the exact peak of the run's largest process (the job: Snakemake's own is far smaller),
    since a sampled peak can miss the top."""
    target = f"results/{dataset}/models/{name}/metrics.json"
    _, peak = measured_snakemake(workdir, configs, target, "--forcerun", "evaluate_model")
    bench = pd.read_csv(workdir / "results" / dataset / "benchmarks" / "evaluate" / f"{name}.tsv", sep="\t").iloc[-1]
    crops = sum(
        len(pd.read_csv(workdir / "results" / dataset / "cache" / f"{s}_index.csv")) for s in ("train", "val", "test")
    )
    figures = {"crops": crops, "seconds": round(float(bench["s"]), 1), "cpu_seconds": round(float(bench["cpu_time"]), 1),
               "sampled_max_rss_mb": round(float(bench["max_rss"])), "peak_rss_mb": round(peak / 2**20)}  # fmt: skip
    print(f"  evaluate {name}: {crops:,} crops in {figures['seconds']:.1f} s ({figures['cpu_seconds']:.1f} CPU s "
          f"sampled), peak {figures['peak_rss_mb']} MB (sampled {figures['sampled_max_rss_mb']} MB)", flush=True)  # fmt: skip
    return figures


def run_preset(name: str, args) -> dict:
    path, what = standin(name, args)
    config_file = ROOT / "configs" / PRESETS[name]
    preset = yaml.safe_load(config_file.read_text())
    workdir = OUT / "runs" / (f"{name}-quick" if args.quick else name)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    paths = workdir / "my-paths.yaml"
    paths.write_text(yaml.safe_dump({"datasets": sources_for(preset, path)}))
    configs = [config_file, paths]
    print(f"{name} ({what}):", flush=True)
    figures = {"standin": what, "steps": data_stage(workdir, configs, list(preset["datasets"]))}
    steps = [figures["steps"][step] for step in STEPS]
    figures["data_seconds"] = round(sum(s["seconds"] for s in steps), 1)
    figures["data_peak_mb"] = max(s["peak_rss_mb"] for s in steps)
    ok = figures["data_seconds"] < GOAL_SECONDS and figures["data_peak_mb"] * 2**20 < GOAL_BYTES
    print(f"  data stage {figures['data_seconds']:.1f} s, peak {figures['data_peak_mb']} MB "
          f"({'meets' if ok else 'MISSES'} the goal: < {GOAL_SECONDS:.0f} s, < 2 GB)", flush=True)  # fmt: skip
    if not args.no_train:
        models = [ds["baseline"] for ds in preset["datasets"].values() if ds.get("baseline")]
        models += [m for m in args.models if m in preset["models"]]
        figures["epochs"] = [one_epoch(workdir, configs, preset, model, args.evaluate) for model in models]
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", choices=list(PRESETS), default=list(PRESETS))
    parser.add_argument("--medical-photos", type=int, default=1000)
    parser.add_argument("--no-train", action="store_true", help="data stages only")
    parser.add_argument("--quick", action="store_true", help="small stand-ins: checks the script, measures nothing")
    parser.add_argument("--models", nargs="*", default=[], help="more models to time one epoch of")
    parser.add_argument(
        "--evaluate", action="store_true", help="also each timed model's evaluate job (seconds, memory)"
    )
    parser.add_argument("--no-networks", action="store_true", help="no eager / compiled epochs of the preset networks")
    parser.add_argument("--networks", nargs="*", help="preset networks to time eager and compiled (default: all)")
    parser.add_argument("--network-seconds", type=float, default=20.0, help="work in each network's epoch")
    args = parser.parse_args(argv)
    snakemake_env()  # its one-off SLURM probe is not part of any timing
    started = time.perf_counter()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["n/a"]
    print(f"load average at start: {' '.join(load)}", flush=True)
    results = {name: run_preset(name, args) for name in args.presets}
    if not args.no_networks:
        print("preset networks, one CPU epoch eager and compiled (train.compile: true):", flush=True)
        crops = 64 if args.quick else None  # --quick checks the script, measures nothing
        results["networks"] = network_epochs.rows_on(
            args.networks, crops, args.network_seconds, network_epochs.MODES, 2, network_epochs.torch.device("cpu")
        )
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    (OUT / ("figures-quick.json" if args.quick else "figures.json")).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
