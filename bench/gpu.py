"""Benchmark: the GPU rows, in one run the moment a GPU is at hand (issue 26).

    .venv/bin/python bench/gpu.py                       # on a machine with CUDA: everything below
    .venv/bin/python bench/gpu.py --out gpu.json        # also keep the figures
    .venv/bin/python bench/gpu.py --dry-check           # no GPU: every part once, small, on the CPU

1. Images per second of an epoch of `cnn_baseline` and FER's networks (fer_cnn, fer_vgg64,
   fer_leaky48) on the GPU, mixed precision on and off, eager and compiled (`train.compile: true`),
   with the compile time and the fraction of the GPU's fp32 matmul throughput
   (bench/network_epochs.py: maskflow's own `train_one_epoch`, batch size and optimizer of the
   preset, seeded random crops).
2. The epoch benchmark's GPU rows (bench/train_epoch.py: maskflow against the floor and against
   torchvision's ImageFolder + DataLoader on the default config's `cnn_baseline` and `mlp`; it
   adds its `cuda` rows by itself when CUDA is present).
3. `snakemake --cores 2 all` of tests/config/tiny.yaml with `device: cuda`, from nothing, in a
   temporary folder: wall seconds, and each torch model's metrics.json says it trained on CUDA.

`--dry-check` runs the same code on the CPU with a few crops, one network, and `snakemake -n` for
step 3 (`device: cuda` planned, nothing trained): it proves the script runs, it measures nothing.
Without CUDA and without --dry-check it says so and exits 2. `main()` returns the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "workflow")]

from bench import network_epochs, train_epoch  # noqa: E402
from bench.workflow_overhead import job_counts, snakemake_env  # noqa: E402

NETWORKS = ("cnn_baseline", "fer_cnn", "fer_vgg64", "fer_leaky48")
TINY = ROOT / "tests" / "config" / "tiny.yaml"


def network_rows(networks, device: torch.device, crops: int | None, seconds: float, modes) -> dict:
    """Every network x mixed precision on/off x eager/compiled, on `device`."""
    nets = network_epochs.preset_networks()
    peak = network_epochs.matmul_flops(device)
    print(f"fp32 matmul on {device}: {peak / 1e12:.2f} TFLOP/s", flush=True)
    rows = []
    for name in networks:
        count = crops or network_epochs.auto_crops(nets[name], device, peak, seconds, most=50_000)
        for amp in (True, False):
            for mode in modes:
                row = network_epochs.network_epoch(name, nets[name], device, count, mode, amp=amp)
                network_epochs.print_row(row, peak)
                rows.append(row)
    return {"device": str(device), "matmul_tflops": peak / 1e12, "rows": rows}


def tiny_cuda_run(dry: bool) -> dict:
    """The tiny config with `device: cuda` through Snakemake, from nothing (a dry run: planned only)."""
    with tempfile.TemporaryDirectory(prefix="maskflow-gpu-") as folder:
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
        command += ["--directory", folder, "--configfile", str(TINY), "--config", "device=cuda", "--cores", "2"]
        command += ["-n", "all"] if dry else ["all"]
        started = time.perf_counter()
        process = subprocess.run(command, capture_output=True, text=True, env=snakemake_env())
        wall = time.perf_counter() - started
        log = process.stdout + process.stderr
        if process.returncode != 0:
            raise SystemExit(f"tiny config with device: cuda failed ({process.returncode}):\n{log[-4000:]}")
        devices = {}
        for metrics in Path(folder, "results").glob("*/models/*/metrics.json"):
            training = json.loads(metrics.read_text()).get("training") or {}
            devices[metrics.parent.name] = training.get("device")
    figures = {"wall_s": wall, "jobs": sum(job_counts(log).values()), "devices": devices, "dry_run": dry}
    on_cuda = sorted(m for m, d in devices.items() if d and str(d).startswith("cuda"))
    print(
        f"tiny config, device: cuda, {'planned' if dry else 'run'}: {figures['jobs']} jobs, {wall:.1f} s"
        + ("" if dry else f"; trained on CUDA: {len(on_cuda)} of {len(devices)} models ({', '.join(on_cuda)})"),
        flush=True,
    )
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-check", action="store_true", help="run every part small on the CPU (measures nothing)")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--crops", type=int, help="crops per epoch (default: about --epoch-seconds of work)")
    parser.add_argument("--epoch-seconds", type=float, default=5.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["networks", "train_epoch", "tiny"])
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.dry_check:
        print("bench/gpu.py: PyTorch sees no CUDA device; nothing measured (--dry-check runs it on the CPU)")
        raise SystemExit(2)
    device = torch.device("cpu" if args.dry_check else "cuda")
    figures: dict = {"dry_check": args.dry_check, "torch": torch.__version__}
    if device.type == "cuda":
        figures["gpu"] = torch.cuda.get_device_name(0)
        print(f"GPU: {figures['gpu']}, torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    if "networks" not in args.skip:
        networks = args.networks[:1] if args.dry_check else args.networks
        crops = 32 if args.dry_check else args.crops
        figures["networks"] = network_rows(networks, device, crops, args.epoch_seconds, network_epochs.MODES)
    if "train_epoch" not in args.skip:
        small = ["--crops", "64", "--epochs", "1", "--models", "cnn_baseline", "--workers", "0"]
        figures["train_epoch"] = train_epoch.main(["--cache-dir", "/nonexistent", *small] if args.dry_check else [])
    if "tiny" not in args.skip:
        figures["tiny"] = tiny_cuda_run(dry=args.dry_check)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1, default=str))
    return figures


if __name__ == "__main__":
    main()
