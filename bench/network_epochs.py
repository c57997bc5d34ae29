"""One training epoch of each preset network, eager or compiled, as a fraction of the machine's
fp32 matrix-multiply throughput (issue 26). Used by bench/real_scale.py (CPU rows) and bench/gpu.py
(GPU rows); runnable alone:

    .venv/bin/python bench/network_epochs.py                                # every preset network, CPU, eager + compiled
    .venv/bin/python bench/network_epochs.py --networks fer_cnn --crops 2048 --modes eager

A preset network is a torch model of a preset in configs/ that names no `base:` (variants
train the same network), once per architecture and crop shape: cnn_baseline (Face Mask
Detection and Medical Masks), mlp, fer_cnn (FER's 3-block CNN), fer_vgg64, fer_leaky48 (the
4-block LeakyReLU network), mnist_mlp, mnist_cnn. Each trains through maskflow's own
`train_one_epoch` (its batch size, optimizer, loss, augmentation and mixed-precision setting from
the preset, `place`d as `maskflow train` places it) on `--crops` seeded random crops of the
preset's size and channels. Per network and mode it prints:

- the epoch's seconds and images per second (the second epoch; the first one warms up);
- compiled: the compile time (first epoch less the second);
- the model step's FLOPs per image (forward + backward, torch.utils.flop_counter) times images
  per second, as a fraction of this machine's fp32 matmul throughput measured in the same run
  (a 2048 x 2048 product, at the same thread count): how close the epoch is to what the
  hardware's best kernel does.

`main()` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from maskflow.config import resolve_train  # noqa: E402
from maskflow.inference import Normalizer, as_nchw  # noqa: E402
from maskflow.models import CHANNELS, build_model  # noqa: E402
from maskflow.models.init import initialise  # noqa: E402
from maskflow.runtime.device import MixedPrecision, place  # noqa: E402
from maskflow.training.augment import Augmenter  # noqa: E402
from maskflow.training.data import Split  # noqa: E402
from maskflow.training.loop import train_one_epoch  # noqa: E402
from maskflow.training.optim import OPTIMIZERS, CrossEntropy  # noqa: E402

PRESETS = ("face-mask-detection.yaml", "medical-masks.yaml", "fer2013.yaml", "mnist.yaml")
MODES = ("eager", "compiled")


def preset_networks() -> dict[str, dict]:
    """name -> {arch, train, size, channels, classes} of every preset network (see the docstring)."""
    found: dict[str, dict] = {}
    seen = set()
    for preset in PRESETS:
        config = yaml.safe_load((ROOT / "configs" / preset).read_text())
        for name, model in config["models"].items():
            if "base" in model or model["arch"]["type"] == "numpy_mlp":
                continue
            dataset = config["datasets"][model.get("dataset") or next(iter(config["datasets"]))]
            preprocess = {"size": 32, "channels": "rgb", **(dataset.get("preprocess") or {})}
            key = json.dumps([model["arch"], preprocess["size"], preprocess["channels"]], sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            found[name] = {
                "arch": model["arch"],
                "train": resolve_train(model.get("train"), f"models.{name}.train"),
                "size": preprocess["size"],
                "channels": CHANNELS[preprocess["channels"]],
                "classes": len(dataset["classes"]),
            }
    return found


def matmul_flops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """This machine's fp32 matrix-multiply throughput (FLOP/s) at torch's current thread count."""
    a, b = (torch.randn(n, n, generator=torch.Generator().manual_seed(i)).to(device) for i in (0, 1))
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        sync(device)
        started = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, criterion) -> float:
    """FLOPs of one forward + backward of `model` on a batch, per image."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        criterion(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(y)


def auto_crops(net: dict, device: torch.device, peak: float, seconds: float, most: int = 8192) -> int:
    """Crops for an epoch of about `seconds` at a third of the matmul peak (whole batches, at
    least 8, at most `most`): a FER VGG epoch of 8,192 crops would take 15 minutes on 2 cores."""
    model = place(build_model(net["arch"], net["channels"], net["size"], net["classes"]), device)
    x = torch.zeros((2, net["channels"], net["size"], net["size"]), device=device)
    flops = step_flops(model, x, torch.zeros(2, dtype=torch.int64, device=device), torch.nn.CrossEntropyLoss())
    batch = net["train"]["batch_size"]
    batches = int(seconds * peak / 3 / flops // batch)
    return max(8, min(batches, most // batch)) * batch


def network_epoch(name: str, net: dict, device: torch.device, crops: int, mode: str, amp: bool | None = None) -> dict:
    """Two epochs of `net` over `crops` seeded random crops; the second one's figures (and, compiled,
    the compile time). `amp` overrides the preset's mixed precision (None: the preset's)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(crops, net["size"], net["size"], net["channels"]), dtype=np.uint8)
    y = rng.integers(0, net["classes"], size=crops).astype(np.int64)
    split = Split(as_nchw(x, device), torch.from_numpy(y).to(device), y)
    normalizer = Normalizer({"mean": [0.5] * net["channels"], "std": [0.25] * net["channels"]}, device)
    train = net["train"]
    torch.manual_seed(0)
    model = place(
        initialise(build_model(net["arch"], net["channels"], net["size"], net["classes"]), train["init"]), device
    )
    optimizer = OPTIMIZERS[train["optimizer"]](model.parameters(), train)
    criterion = CrossEntropy(None, train["label_smoothing"], net["classes"]).to(device)
    precision = MixedPrecision.for_device(device, train["mixed_precision"] if amp is None else amp)
    augmenter = Augmenter(train["augment"], torch.Generator().manual_seed(1))
    step_model = model
    if mode == "compiled":
        from maskflow.training.compiled import for_training

        step_model = for_training(model, device, f"{name}.train.compile")
    order = torch.Generator().manual_seed(2)
    seconds = []
    for _ in range(2):
        sync(device)
        started = time.perf_counter()
        train_one_epoch(
            step_model, split, torch.randperm(crops, generator=order), train["batch_size"], normalizer,
            augmenter, criterion, optimizer, precision,
        )  # fmt: skip
        sync(device)
        seconds.append(time.perf_counter() - started)
    batch = min(train["batch_size"], crops)
    flops = step_flops(model, normalizer(split.x[:batch]), split.y[:batch], criterion)
    return {
        "network": name,
        "mode": mode,
        "amp": precision.describe(),
        "crops": crops,
        "epoch_s": seconds[1],
        "images_per_s": crops / seconds[1],
        "compile_s": seconds[0] - seconds[1] if mode == "compiled" else None,
        "step_gflop_per_image": flops / 1e9,
        "flops_per_s": flops * crops / seconds[1],
    }


def print_row(row: dict, peak: float) -> None:
    row["matmul_fraction"] = row["flops_per_s"] / peak
    compile_part = f", compile {row['compile_s']:.1f} s" if row["compile_s"] is not None else ""
    print(
        f"  {row['network']:12s} {row['mode']:8s} amp {row['amp']:14s} epoch of {row['crops']:,} crops "
        f"{row['epoch_s']:7.2f} s ({row['images_per_s']:8,.0f} images/s){compile_part}; "
        f"{row['step_gflop_per_image'] * 1e3:.2f} MFLOP an image, {row['matmul_fraction']:.0%} of fp32 matmul",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="*", help="preset networks to time (default: all)")
    parser.add_argument("--crops", type=int, help="crops per epoch (default: about --epoch-seconds of work, <= 8192)")
    parser.add_argument("--epoch-seconds", type=float, default=20.0)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    return rows_on(args.networks, args.crops, args.epoch_seconds, args.modes, args.threads, torch.device(args.device))


def rows_on(networks, crops: int | None, epoch_seconds: float, modes, threads: int, device: torch.device) -> dict:
    """Every (network, mode) row on `device`, with the matmul peak it is a fraction of."""
    torch.set_num_threads(threads)
    torch.set_deterministic_debug_mode("error")  # as maskflow.runtime.device.configure
    nets = preset_networks()
    unknown = set(networks or []) - set(nets)
    if unknown:
        raise SystemExit(f"--networks: unknown {', '.join(sorted(unknown))}; preset networks: {', '.join(nets)}")
    peak = matmul_flops(device)
    print(f"fp32 matmul on {device} ({threads} threads): {peak / 1e9:.1f} GFLOP/s", flush=True)
    rows = []
    for name in networks or nets:
        count = crops or auto_crops(nets[name], device, peak, epoch_seconds)
        for mode in modes:
            row = network_epoch(name, nets[name], device, count, mode)
            print_row(row, peak)
            rows.append(row)
    return {"device": str(device), "threads": threads, "matmul_gflops": peak / 1e9, "rows": rows}


if __name__ == "__main__":
    main()
