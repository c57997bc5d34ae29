"""`maskflow figure`: render one figure of one model or ensemble to a PNG.

    maskflow figure confusion_matrix_test --metrics results/masks/models/cnn/metrics.json \
        --spec '{"name": "cnn", "classes": ["good", "bad", "none"], "figures": {}}' \
        --out results/masks/figures/cnn/confusion_matrix_test.png

The name is a family, plus `_{split}` for the families drawn per split. Each family lives in
its own module and declares the inputs it reads (FAMILIES below: family -> renderer, inputs,
which models get it), so the Snakemake rule of a figure needs only those files and every figure
is a target of its own (results/{dataset}/figures/{model}/{name}.png; maskflow.layout lists a
model's figures from FAMILIES).
"""

from __future__ import annotations

import argparse
import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maskflow.cli import json_option
from maskflow.config import FIGURE_DEFAULTS, SPLITS
from maskflow.errors import ConfigError, DataError
from maskflow.io import atomic


def _always(model: dict, dataset: dict) -> bool:
    return True


def _trained(model: dict, dataset: dict) -> bool:
    return model["kind"] == "model"  # not an ensemble: it has weights and a history of its own


def _from_photos(model: dict, dataset: dict) -> bool:
    from maskflow.layout import PHOTO_FORMATS

    return dataset["annotations"]["format"] in PHOTO_FORMATS


def _has_gradients(model: dict, dataset: dict) -> bool:
    return _trained(model, dataset) and model["arch"]["type"] != "numpy_mlp"


def _has_convolutions(model: dict, dataset: dict) -> bool:
    arch = model.get("arch") or {}
    layers = arch.get("layers") if arch.get("type") == "sequential" else None
    convolutional = arch.get("type") == "cnn" or any(layer.get("type") == "conv2d" for layer in layers or [])
    return _trained(model, dataset) and convolutional


def _has_latent(model: dict, dataset: dict) -> bool:
    return _trained(model, dataset) and bool(model["train"]["latent_epochs"] or model["arch"].get("bottleneck"))


@dataclass(frozen=True)
class Family:
    renderer: str  # "module:function", imported only when used (torch is slow to import)
    inputs: tuple[str, ...]
    per_split: bool = False  # named `{family}_{split}`; any split on request
    # Which figures `snakemake all` and the report draw (maskflow.layout.model_figures):
    drawn_for: Callable[[dict, dict], bool] = _always  # (resolved model, dataset) -> drawn?
    drawn_splits: tuple[str, ...] = ("test",)  # of a per-split family


# figure family -> how to render it, and for which models. Adding a figure is one entry here
# plus its module.
FAMILIES: dict[str, Family] = {
    "confusion_matrix": Family(
        "maskflow.figures.confusion:render",
        ("metrics",),
        per_split=True,
        drawn_splits=("val", "test"),
    ),
    "per_class_accuracy": Family("maskflow.figures.per_class:render", ("metrics",)),
    "misclassified": Family(
        "maskflow.figures.galleries:render_misclassified", ("predictions", "cache_dir"), per_split=True
    ),
    "overlays": Family(
        "maskflow.figures.galleries:render_overlays",
        ("predictions", "raw_dir", "annotations"),
        per_split=True,
        drawn_for=_from_photos,
    ),
    "learning_curves": Family("maskflow.figures.curves:render", ("history", "metrics"), drawn_for=_trained),
    # the network figures plot what `maskflow evaluate` computed with the model loaded (no torch here)
    "saliency": Family("maskflow.figures.saliency:render", ("explanations",), drawn_for=_has_gradients),
    "filters": Family("maskflow.figures.filters:render", ("explanations",), drawn_for=_has_convolutions),
    "filter_maximization": Family(
        "maskflow.figures.filter_maximization:render", ("explanations",), drawn_for=_has_convolutions
    ),
    "latent": Family("maskflow.figures.latent:render", ("latent", "checkpoint", "cache_dir"), drawn_for=_has_latent),
}

INPUT_HELP = {
    "metrics": "metrics.json of the model",
    "history": "history.csv of the model",
    "predictions": "predictions_{split}.csv of the model",
    "cache_dir": "results/{dataset}/cache",
    "raw_dir": "resources/{dataset}/raw (source photos)",
    "annotations": "results/{dataset}/data/annotations.csv",
    "checkpoint": "checkpoint.pt of the model",
    "latent": "latent.npz of the model",
    "explanations": "explanations.npz of the model (written by maskflow evaluate)",
}


@dataclass
class FigureJob:
    """What a renderer receives: the figure's name and split, settings, and its input paths."""

    name: str
    family: str
    split: str | None
    spec: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.spec.get("name", "model")

    @property
    def classes(self) -> list[str]:
        return list(self.spec.get("classes") or [])

    def setting(self, key: str):
        return {**FIGURE_DEFAULTS, **(self.spec.get("figures") or {})}[key]

    def path(self, key: str) -> Path:
        return Path(self.paths[key])


def all_names() -> list[str]:
    return [
        f"{name}_{s}" if family.per_split else name
        for name, family in FAMILIES.items()
        for s in (SPLITS if family.per_split else [None])
    ]


def parse_name(name: str) -> tuple[str, str | None]:
    """'confusion_matrix_test' -> ('confusion_matrix', 'test'); 'saliency' -> ('saliency', None)."""
    if name in FAMILIES and not FAMILIES[name].per_split:
        return name, None
    family, _, split = name.rpartition("_")
    if family in FAMILIES and FAMILIES[family].per_split and split in SPLITS:
        return family, split
    raise ConfigError(f"unknown figure {name!r}; known figures: {', '.join(all_names())}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="figure name, e.g. confusion_matrix_test, learning_curves, saliency")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--spec", default="{}", help="JSON: name, classes, figures settings")
    for key, text in INPUT_HELP.items():
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, help=text)


def render(job: FigureJob):
    """The matplotlib figure of one job (not saved)."""
    family = FAMILIES[job.family]
    missing = [key for key in family.inputs if not job.paths.get(key)]
    if missing:
        raise ConfigError(f"figure {job.name} needs {', '.join('--' + m.replace('_', '-') for m in missing)}")
    for key in family.inputs:
        if not Path(job.paths[key]).exists():
            raise DataError(f"{job.paths[key]}: input of figure {job.name} not found ({INPUT_HELP[key]})")
    module_name, function = family.renderer.split(":")
    return getattr(importlib.import_module(module_name), function)(job)


def run(args: argparse.Namespace) -> None:
    family, split = parse_name(args.name)
    spec = json_option(args.spec, "--spec")
    paths = {key: getattr(args, key) for key in INPUT_HELP if getattr(args, key, None)}
    job = FigureJob(args.name, family, split, spec, paths)
    save(args.out, render(job))


def save(path: str | Path, figure) -> None:
    """Write the figure atomically as a 256-colour palette PNG.

    True-colour PNGs of photos and crop galleries run to 0.2-1 MB each; with a palette they
    look the same at figure size and are 3-5x smaller, which matters once the report embeds
    a hundred of them.
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)
    buffer.seek(0)
    with Image.open(buffer) as image:
        quantized = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    quantized.save(out, format="PNG", optimize=True)
    atomic.write_bytes(path, out.getvalue())
