"""Seconds per training epoch: maskflow's in-memory input pipeline against torchvision's
ImageFolder + DataLoader + PIL transforms, and against the physical floor, over the same crops,
model and batch size.

    .venv/bin/python bench/train_epoch.py                       # default: results/masks/cache if built, else blobs
    .venv/bin/python bench/train_epoch.py --cache-dir results/masks/cache --epochs 3 --threads 2
    .venv/bin/python bench/train_epoch.py --threads 1 2 --workers 0 1 2      # the defaults

Every side trains the default config's `cnn_baseline` (three conv blocks) and `mlp`, batch size
16, with the same model-side settings: the model as `maskflow train` places it (channels-last,
maskflow.runtime.device.place), the same fused Adam (maskflow.training.optim), the same loss and
the same mixed precision (bf16 autocast on a GPU that has it, fp32 on CPU), at each of
`--threads` torch thread counts (1 and 2: 2 is what the default config trains with; results
keyed `model/cpu/{n}t`). Only the input differs:

  maskflow   indexes uint8 arrays held in memory (on the GPU when there is one), augments whole
             batches with tensor ops (flip, rotation up to 10 degrees): `train_one_epoch`;
  ImageFolder  decodes one PNG per sample and flips/rotates it with PIL every epoch, through a
             DataLoader with each of `--workers` worker counts (0, 1 and 2: on two cores, one
             worker process beside a 1-thread trainer may be its best); its fastest count is the
             baseline;
  floor      the same model's forward + backward + optimizer step over the same batches already
             in memory as normalized float tensors (no augmentation, no indexing): what any input
             pipeline costs at least. Goal: maskflow epoch / floor at most 1.15.

Each figure is the best of `--epochs` timed epochs after one warm-up, the sides interleaved
epoch by epoch (a shared machine only ever adds time, and a busy spell hits every side). Also timed: each input pipeline alone (batches produced, no model). With CUDA
present, the same on the GPU. Every side runs in one process, under the same OpenMP wait
policy: libgomp's default (spin, then sleep), as a training job with its own cores gets;
`OMP_WAIT_POLICY=PASSIVE` in the environment times them as jobs sharing cores run (see
maskflow.runtime.openmp). `main()` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from maskflow.inference import Normalizer, as_nchw  # noqa: E402
from maskflow.models import build_model  # noqa: E402
from maskflow.runtime.device import MixedPrecision, place  # noqa: E402
from maskflow.training.augment import Augmenter  # noqa: E402
from maskflow.training.data import Split  # noqa: E402
from maskflow.training.loop import batch_bounds, train_one_epoch  # noqa: E402
from maskflow.training.optim import OPTIMIZERS, CrossEntropy  # noqa: E402

# The default config's cnn_baseline and mlp (config.yaml).
ARCHS = {
    "cnn_baseline": {
        "type": "cnn",
        "blocks": [
            {"channels": 16, "kernel": 3, "pool": 2, "batch_norm": True},
            {"channels": 32, "kernel": 3, "pool": 2, "batch_norm": True},
            {"channels": 64, "kernel": 3, "pool": 2, "batch_norm": True},
        ],
        "head": [64],
        "dropout": 0.3,
    },
    "mlp": {"type": "mlp", "hidden": [256, 128], "dropout": 0.2, "batch_norm": True},
}
BATCH = 16
ROTATE = 10
FLOOR_GOAL = 1.15  # maskflow epoch / floor epoch


def load_crops(cache_dir: Path | None, n: int, size: int) -> tuple[np.ndarray, np.ndarray, str]:
    if cache_dir and (cache_dir / "train_x.npy").is_file():
        return np.load(cache_dir / "train_x.npy"), np.load(cache_dir / "train_y.npy"), str(cache_dir)
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=n, p=[0.8, 0.17, 0.03])
    x = rng.normal(110, 40, size=(n, size, size, 3))
    for k in range(3):
        x[y == k, 4 * k : 4 * k + 8, 8:24, k] += 40
    return np.clip(x, 0, 255).astype(np.uint8), y, f"{n} random blob crops {size}x{size}"


def write_image_folder(x: np.ndarray, y: np.ndarray, root: Path) -> None:
    from PIL import Image

    for i, (crop, label) in enumerate(zip(x, y)):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(crop.squeeze(-1) if crop.shape[-1] == 1 else crop).save(folder / f"{i:06d}.png")


def make_model(arch: dict, channels: int, size: int, device):
    """Model, optimizer, loss and mixed precision exactly as `maskflow train` sets them up; every
    side gets these, so the sides differ in their input only."""
    torch.manual_seed(0)
    model = place(build_model(arch, channels, size, 3), device)  # channels-last
    optimizer = OPTIMIZERS["adam"](model.parameters(), {"lr": 1e-3, "weight_decay": 0.0})  # fused
    criterion = CrossEntropy(None, 0.0, 3).to(device)
    amp = MixedPrecision.for_device(torch.device(device), enabled=True)  # bf16 on a GPU with it
    return model, optimizer, criterion, amp


def step(model, optimizer, criterion, amp, x, y) -> None:
    """One forward + backward + optimizer step, as `train_one_epoch` takes it."""
    with amp.autocast():
        loss = criterion(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    amp.scaler.scale(loss).backward()
    amp.scaler.step(optimizer)
    amp.scaler.update()


def timed(functions: dict, repeats: int) -> dict[str, float]:
    """Best seconds of `repeats` calls of each function, after one warm-up call each. Rounds are
    interleaved (every function once per round), so a busy spell of a shared machine falls on
    every side alike, and the best of the rounds is the least disturbed one (others only add)."""
    for function in functions.values():
        function()
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, function in functions.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            started = time.perf_counter()
            function()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def maskflow_side(arch, x, y, normalization, device):
    split = Split(as_nchw(x, device), torch.from_numpy(y).to(device), y)
    normalizer = Normalizer(normalization, device)
    augmenter = Augmenter({"hflip": True, "rotate": ROTATE}, torch.Generator().manual_seed(0))
    order = torch.Generator().manual_seed(1)
    model, optimizer, criterion, amp = make_model(arch, x.shape[-1], x.shape[1], device)

    def epoch():
        train_one_epoch(
            model,
            split,
            torch.randperm(len(y), generator=order),
            BATCH,
            normalizer,
            augmenter,
            criterion,
            optimizer,
            amp,
        )

    def pipeline_only():
        index = torch.randperm(len(y), generator=order).to(device)
        for start, end in batch_bounds(len(y), BATCH):
            normalizer.normalize(augmenter(normalizer.unit(split.x[index[start:end]])))

    return epoch, pipeline_only


def floor_side(arch, x, y, normalization, device):
    """The same model's steps over batches made beforehand: normalized float tensors in memory, in
    the layout maskflow's batches have, no augmentation and no indexing inside the timed epoch."""
    split_x = as_nchw(x, device)
    normalizer = Normalizer(normalization, device)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1)).to(device)
    labels = torch.from_numpy(y).to(device)
    batches = [
        (normalizer.normalize(normalizer.unit(split_x[order[start:end]])), labels[order[start:end]])
        for start, end in batch_bounds(len(y), BATCH)
    ]
    model, optimizer, criterion, amp = make_model(arch, x.shape[-1], x.shape[1], device)

    def epoch():
        model.train()
        for images, targets in batches:
            step(model, optimizer, criterion, amp, images, targets)

    return epoch


def torchvision_side(arch, root: Path, normalization, channels, size, device, workers: int):
    from torchvision import datasets, transforms

    steps = [transforms.RandomHorizontalFlip(), transforms.RandomRotation(ROTATE)]
    if channels == 1:
        steps.insert(0, transforms.Grayscale(1))
    steps += [transforms.ToTensor(), transforms.Normalize(normalization["mean"], normalization["std"])]
    dataset = datasets.ImageFolder(str(root), transform=transforms.Compose(steps))
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=BATCH,
        shuffle=True,
        num_workers=workers,
        pin_memory=device == "cuda",
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    model, optimizer, criterion, amp = make_model(arch, channels, size, device)

    def epoch():
        model.train()
        for images, labels in loader:
            # channels-last as maskflow's batches are, so the model runs the same kernels
            images = images.to(device, memory_format=torch.channels_last, non_blocking=True)
            step(model, optimizer, criterion, amp, images, labels.to(device, non_blocking=True))

    def pipeline_only():
        for images, _labels in loader:
            images.to(device)

    return epoch, pipeline_only


def measure(arch: dict, device: str, x, y, root, normalization, epochs: int, workers: list[int]) -> dict:
    sides = {}
    sides["maskflow_epoch_s"], sides["maskflow_pipeline_s"] = maskflow_side(arch, x, y, normalization, device)
    sides["floor_epoch_s"] = floor_side(arch, x, y, normalization, device)
    for n in workers:
        epoch, pipeline = torchvision_side(arch, root, normalization, x.shape[-1], x.shape[1], device, n)
        sides[f"torchvision_w{n}_epoch_s"], sides[f"torchvision_w{n}_pipeline_s"] = epoch, pipeline
    figures = timed(sides, epochs)
    figures["maskflow_over_floor"] = figures["maskflow_epoch_s"] / figures["floor_epoch_s"]
    for n in workers:
        figures[f"ratio_w{n}_epoch"] = figures[f"torchvision_w{n}_epoch_s"] / figures["maskflow_epoch_s"]
        figures[f"ratio_w{n}_pipeline"] = figures[f"torchvision_w{n}_pipeline_s"] / figures["maskflow_pipeline_s"]
    # The baseline at its best: the worker count whose epoch was fastest on this machine.
    fastest = min(workers, key=lambda n: figures[f"torchvision_w{n}_epoch_s"])
    figures["torchvision_best_workers"] = fastest
    figures["torchvision_best_epoch_s"] = figures[f"torchvision_w{fastest}_epoch_s"]
    figures["ratio_best_epoch"] = figures[f"ratio_w{fastest}_epoch"]
    figures["maskflow_images_per_s"] = len(y) / figures["maskflow_epoch_s"]
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "results/masks/cache")
    parser.add_argument("--crops", type=int, default=1500, help="blob crops when there is no cache")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per side (after one warm-up)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time at")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="DataLoader worker counts; the fastest is the baseline",
    )
    parser.add_argument("--models", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    args = parser.parse_args(argv)

    x, y, source = load_crops(args.cache_dir, args.crops, args.size)
    scaled = x.reshape(-1, x.shape[-1]) / 255.0
    normalization = {"mean": scaled.mean(0).tolist(), "std": scaled.std(0).tolist(), "scale": 255}
    results: dict = {"crops": len(y), "source": source, "batch_size": BATCH, "threads": args.threads}
    with tempfile.TemporaryDirectory() as folder:
        write_image_folder(x, y, Path(folder))
        for threads in args.threads:
            torch.set_num_threads(threads)
            # the GPU once, at the last thread count: its epoch hardly depends on CPU threads
            devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and threads == args.threads[-1] else [])
            for name in args.models:
                for device in devices:
                    workers = args.workers if device == "cpu" else [max(args.workers)]
                    key = f"{name}/{device}/{threads}t" if device == "cpu" else f"{name}/{device}"
                    results[key] = measure(ARCHS[name], device, x, y, Path(folder), normalization, args.epochs, workers)
    results["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "default")
    print(
        f"{results['crops']} crops ({source}), batch {BATCH}, {' and '.join(map(str, args.threads))} torch threads, "
        f"OpenMP waits {results['omp_wait_policy']}, {args.epochs} timed epochs"
    )
    print("seconds per epoch (_s, best of the timed epochs), torchvision / maskflow (ratio_), w = DataLoader workers")
    for key, figures in results.items():
        if isinstance(figures, dict):
            for name, value in figures.items():
                print(f"  {key:18s} {name:28s} {value:10.3f}")
    for key, figures in results.items():
        if isinstance(figures, dict):
            over = figures["maskflow_over_floor"]
            print(
                f"{key}: maskflow epoch / floor {over:.2f} (goal <= {FLOOR_GOAL}: {'met' if over <= FLOOR_GOAL else 'MISSED'});"
                f" ImageFolder+DataLoader at its fastest ({figures['torchvision_best_workers']} workers) / maskflow"
                f" {figures['ratio_best_epoch']:.2f}"
            )
    return results


if __name__ == "__main__":
    main()
