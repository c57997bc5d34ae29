"""The figure families: each family's name, renderer, inputs and which models it is drawn for.

    from maskflow.figures.families import FAMILIES, parse_name
    FAMILIES["learning_curves"].drawn_for(resolved_model, resolved_dataset)   # True / False
    parse_name("confusion_matrix_test")                                       # ('confusion_matrix', 'test')

A table, read at every Snakemake start (maskflow.layout lists a model's figures from it) and by
the report; `maskflow figure` (maskflow.figures.command) renders a family. It imports only the
config's split names, the error types and the annotation formats cut from photos: no plotting,
no command line, no torch. Adding a figure is one entry in FAMILIES plus its renderer module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from maskflow.annotations import PHOTO_FORMATS
from maskflow.config import SPLITS
from maskflow.errors import ConfigError


def _always(model: dict, dataset: dict) -> bool:
    return True


def _trained(model: dict, dataset: dict) -> bool:
    return model["kind"] == "model"  # not an ensemble: it has weights and a history of its own


def _from_photos(model: dict, dataset: dict) -> bool:
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
