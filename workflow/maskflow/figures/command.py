"""`maskflow figure`: render one figure of one model or ensemble to a PNG.

    maskflow figure confusion_matrix_test --metrics results/masks/models/cnn/metrics.json \
        --spec '{"name": "cnn", "classes": ["good", "bad", "none"], "figures": {}}' \
        --out results/masks/figures/cnn/confusion_matrix_test.png

The name is a family, plus `_{split}` for the families drawn per split. Each family lives in
its own module and declares the inputs it reads (maskflow.figures.families.FAMILIES: family ->
renderer, inputs, which models get it), so the Snakemake rule of a figure needs only those files
and every figure is a target of its own (results/{dataset}/figures/{model}/{name}.png;
maskflow.layout lists a model's figures from FAMILIES).
"""

from __future__ import annotations

import argparse
import importlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maskflow.config import FIGURE_DEFAULTS
from maskflow.errors import ConfigError, DataError
from maskflow.figures.families import FAMILIES, parse_name
from maskflow.io import atomic
from maskflow.options import json_option

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
        # Uncompressed: this PNG is only read back below (its pixels do not depend on the level).
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", pil_kwargs={"compress_level": 0})
    finally:
        plt.close(figure)
    buffer.seek(0)
    with Image.open(buffer) as image:
        quantized = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    quantized.save(out, format="PNG", optimize=True)
    atomic.write_bytes(path, out.getvalue())
