"""Seconds per training epoch: maskflow's in-memory input pipeline against torchvision's
ImageFolder + DataLoader + PIL transforms, over the same crops, model and batch size.

    .venv/bin/python bench/train_epoch.py                       # default: results/masks/cache if built, else blobs
    .venv/bin/python bench/train_epoch.py --cache-dir results/masks/cache --epochs 3 --threads 2

Both sides train the default config's `cnn_baseline` (three conv blocks, batch size 16) with
horizontal flips and rotation up to 10 degrees. maskflow indexes uint8 arrays held in memory
(on the GPU when there is one), augments whole batches with tensor ops and trains as
`maskflow train` does (channels-last model, fused optimizer); torchvision decodes one PNG per
sample and transforms it with PIL every epoch, under a hand-written loop with torch's defaults. Also timed: the input pipeline
alone (batches produced, no model). With CUDA present, images per second on the GPU too.
Both sides run in one process, under the same OpenMP wait policy: libgomp's default (spin,
then sleep), as a training job with its own cores gets; `OMP_WAIT_POLICY=PASSIVE` in the
environment times them as jobs sharing cores run (see maskflow.runtime.openmp).
`main()` returns the figures as a dict.
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


def make_model(arch: dict, channels: int, size: int, device, maskflow: bool):
    torch.manual_seed(0)
    model = build_model(arch, channels, size, 3)
    if maskflow:
        # As `maskflow train` does: channels-last memory (maskflow.runtime.device.place) and its own
        # optimizer table (fused kernels).
        model = place(model, device)
        return model, OPTIMIZERS["adam"](model.parameters(), {"lr": 1e-3, "weight_decay": 0.0})
    # A hand-written loop: torch's default layout and Adam's default (per-tensor) update.
    model = model.to(device)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def timed(function, repeats: int) -> float:
    """Mean seconds of `repeats` calls after one warm-up call."""
    function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats


def maskflow_side(arch, x, y, normalization, device):
    split = Split(as_nchw(x, device), torch.from_numpy(y).to(device), y)
    normalizer = Normalizer(normalization, device)
    augmenter = Augmenter({"hflip": True, "rotate": ROTATE}, torch.Generator().manual_seed(0))
    order = torch.Generator().manual_seed(1)
    model, optimizer = make_model(arch, x.shape[-1], x.shape[1], device, maskflow=True)
    criterion = CrossEntropy(None, 0.0, 3).to(device)
    amp = MixedPrecision.for_device(torch.device(device), enabled=True)

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
    model, optimizer = make_model(arch, channels, size, device, maskflow=False)
    criterion = torch.nn.CrossEntropyLoss()

    def epoch():
        model.train()
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            criterion(model(images), labels).backward()
            optimizer.step()

    def pipeline_only():
        for images, _labels in loader:
            images.to(device)

    return epoch, pipeline_only


def measure(arch: dict, device: str, x, y, root, normalization, epochs: int, workers: list[int]) -> dict:
    figures = {}
    epoch, pipeline = maskflow_side(arch, x, y, normalization, device)
    figures["maskflow_epoch_s"] = timed(epoch, epochs)
    figures["maskflow_pipeline_s"] = timed(pipeline, epochs)
    for n in workers:
        epoch, pipeline = torchvision_side(arch, root, normalization, x.shape[-1], x.shape[1], device, n)
        figures[f"torchvision_w{n}_epoch_s"] = timed(epoch, epochs)
        figures[f"torchvision_w{n}_pipeline_s"] = timed(pipeline, epochs)
        figures[f"ratio_w{n}_epoch"] = figures[f"torchvision_w{n}_epoch_s"] / figures["maskflow_epoch_s"]
        figures[f"ratio_w{n}_pipeline"] = figures[f"torchvision_w{n}_pipeline_s"] / figures["maskflow_pipeline_s"]
    figures["maskflow_images_per_s"] = len(y) / figures["maskflow_epoch_s"]
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "results/masks/cache")
    parser.add_argument("--crops", type=int, default=1500, help="blob crops when there is no cache")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per side (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts to time")
    parser.add_argument("--models", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    x, y, source = load_crops(args.cache_dir, args.crops, args.size)
    scaled = x.reshape(-1, x.shape[-1]) / 255.0
    normalization = {"mean": scaled.mean(0).tolist(), "std": scaled.std(0).tolist(), "scale": 255}
    results: dict = {"crops": len(y), "source": source, "batch_size": BATCH, "threads": args.threads}
    with tempfile.TemporaryDirectory() as folder:
        write_image_folder(x, y, Path(folder))
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for name in args.models:
            for device in devices:
                workers = args.workers if device == "cpu" else [max(args.workers)]
                results[f"{name}/{device}"] = measure(
                    ARCHS[name], device, x, y, Path(folder), normalization, args.epochs, workers
                )
    results["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "default")
    print(
        f"{results['crops']} crops ({source}), batch {BATCH}, {args.threads} torch threads, "
        f"OpenMP waits {results['omp_wait_policy']}, {args.epochs} timed epochs"
    )
    print("seconds per epoch (_s), torchvision / maskflow (ratio_), w = DataLoader workers")
    for key, figures in results.items():
        if isinstance(figures, dict):
            for name, value in figures.items():
                print(f"  {key:18s} {name:28s} {value:10.3f}")
    return results


if __name__ == "__main__":
    main()
