"""`maskflow evaluate`: predictions and metrics of one model or one ensemble, on every split.

    maskflow evaluate --checkpoint results/masks/models/cnn/checkpoint.pt \
        --cache-dir results/masks/cache --normalization results/masks/stats/normalization.json \
        --out-dir results/masks/models/cnn --metrics results/masks/models/cnn/metrics.json
    maskflow evaluate --ensemble '{"name": "ens", "dataset": "masks", "members": ["a", "b"]}' \
        --models-dir results/masks/models --cache-dir results/masks/cache \
        --out-dir results/masks/models/ens --metrics results/masks/models/ens/metrics.json

A model is run on the cached arrays through `maskflow.inference.predict_proba` (the only
inference path); an ensemble averages its members' `predictions_{split}.csv` probabilities.
Either way the probabilities then go through the same code: three decision rules (argmax,
prior-corrected and above-prior, see maskflow.evaluation.metrics), `predictions_{split}.csv`
and `metrics.json` in the formats of docs/contracts.md; a model's `--explanations` file holds what
its saliency and convolution figures plot (maskflow.evaluation.explain). metrics.json also carries what the comparison and report need,
so those stages never load a checkpoint: `spec` (the resolved model or ensemble config),
`training` (seed, best epoch, parameter count, seconds, data checksums, versions) and
`train_prior` (the class prior of the prior-corrected rule).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from maskflow.config import SPLITS
from maskflow.data import integrity
from maskflow.errors import ConfigError, DataError
from maskflow.evaluation.metrics import DECISION_RULES, class_prior, split_metrics
from maskflow.io import atomic, hashing
from maskflow.options import json_option

if TYPE_CHECKING:  # pandas reads ensemble members' tables only: a model's evaluation does without it
    import pandas as pd

log = logging.getLogger(__name__)

# A prediction table: column -> one value per row (strings, or floats for the probabilities).
Columns = dict[str, np.ndarray]

INDEX_COLUMNS = ["row_id", "photo", "xmin", "ymin", "xmax", "ymax"]
# Checkpoint fields copied into metrics.json["training"] (comparison and report read them there).
TRAINING_FIELDS = (
    "seed",
    "epoch",
    "best_epoch",
    "param_count",
    "train_seconds",
    "data_sha256",
    "versions",
    "val_metrics",
    "device",
    "training_run",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--checkpoint", help="a model's checkpoint.pt")
    what.add_argument("--ensemble", help="JSON spec of an ensemble: name, dataset, members")
    parser.add_argument("--cache-dir", required=True, help="results/{dataset}/cache (arrays and index csv)")
    parser.add_argument("--normalization", help="normalization.json the checkpoint must match (models)")
    parser.add_argument("--model", help="the model the checkpoint must belong to (its config name; models)")
    parser.add_argument("--models-dir", help="results/{dataset}/models, where members' predictions are (ensembles)")
    parser.add_argument("--out-dir", required=True, help="where predictions_{split}.csv are written")
    parser.add_argument("--metrics", required=True, help="metrics.json to write")
    parser.add_argument(
        "--explanations", help="explanations.npz to write: what the saliency and conv figures plot (models)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (models)")
    parser.add_argument("--batch-size", type=int, default=512)


# --------------------------------------------------------------------------- shared output


def prediction_frame(index, y_true: np.ndarray, proba: np.ndarray, classes: list[str], prior: np.ndarray) -> Columns:
    """predictions_{split}.csv: index columns, true, the three decisions, confidence, p_<class>.
    `index`: the cache index (column -> values) or a member's prediction table."""
    y_true = np.asarray(y_true, dtype=np.int64)
    names = np.asarray(classes, dtype=object)
    n = len(y_true)
    frame: Columns = {
        column: np.asarray(index[column], dtype=object) if column in index else np.full(n, "", dtype=object)
        for column in INDEX_COLUMNS
    }
    frame["true"] = names[y_true]
    frame["predicted"] = names[DECISION_RULES["argmax"](proba, prior)]
    frame["predicted_prior"] = names[DECISION_RULES["prior_corrected"](proba, prior)]
    frame["predicted_above_prior"] = names[DECISION_RULES["above_prior"](proba, prior)]
    frame["confidence"] = proba.max(axis=1) if n else np.zeros(0)
    for k, name in enumerate(classes):
        frame[f"p_{name}"] = proba[:, k]
    return frame


def metrics_document(name: str, dataset: str, kind: str, classes: list[str], prior: np.ndarray, frames: dict) -> dict:
    lookup = {c: i for i, c in enumerate(classes)}

    def indices(values) -> np.ndarray:
        return np.array([lookup[v] for v in values], dtype=np.int64)

    splits = {}
    for split, frame in frames.items():
        splits[split] = split_metrics(
            indices(frame["true"]),
            indices(frame["predicted"]),
            classes,
            indices(frame["predicted_prior"]),
            indices(frame["predicted_above_prior"]),
        )
    return {
        "model": name,
        "dataset": dataset,
        "classes": list(classes),
        "kind": kind,
        "decision_rules": {
            "argmax": "the most probable class (`predicted`, the headline metrics)",
            "prior_corrected": "argmax of probability / training class prior (`predicted_prior`)",
            "above_prior": "the most probable class among those above their training prior, else argmax "
            "(`predicted_above_prior`)",
        },
        "train_prior": {c: float(p) for c, p in zip(classes, prior)},
        "splits": splits,
    }


def _cell(value) -> str:
    # cells come from .tolist(): Python floats, whose repr is the shortest round-trip form that
    # pandas' to_csv writes too; a diverged model's NaN is an empty field there, as in to_csv
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def table_csv(frame: Columns) -> str:
    """The prediction table as CSV text: a header line, then one line per row, `\n`-terminated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame)
    columns = [frame[name].tolist() for name in frame]
    writer.writerows([_cell(value) for value in row] for row in zip(*columns))
    return buffer.getvalue()


def write_outputs(out_dir: str | Path, metrics_path: str | Path, frames: dict[str, Columns], document: dict) -> None:
    for split, frame in frames.items():
        atomic.write_text(Path(out_dir) / f"predictions_{split}.csv", table_csv(frame))
    atomic.write_json(metrics_path, document)
    for split, entry in document["splits"].items():
        if entry["n"]:
            log.info(
                "%s %s: n=%d accuracy %.4f balanced %.4f macro F1 %.4f (prior-corrected: accuracy %.4f balanced %.4f)",
                document["model"],
                split,
                entry["n"],
                entry["accuracy"],
                entry["balanced_accuracy"],
                entry["macro_f1"],
                entry["prior_corrected"]["accuracy"],
                entry["prior_corrected"]["balanced_accuracy"],
            )


def train_prior(cache_dir: Path, k: int) -> np.ndarray:
    return class_prior(np.load(cache_dir / "train_y.npy"), k)


# --------------------------------------------------------------------------- models


def _array_checksums(cache_dir: Path) -> dict[str, str]:
    return {
        f"{split}_{part}": hashing.sha256_file(cache_dir / f"{split}_{part}.npy")
        for split in ("train", "val")
        for part in ("x", "y")
    }


def _verify(ckpt: dict, cache_dir: Path, normalization_path: str | None) -> None:
    """Refuse arrays or a normalization the checkpoint was not trained with (CheckpointError)."""
    from maskflow.models.checkpoint import verify_data

    normalization = json.loads(Path(normalization_path).read_text()) if normalization_path else None
    verify_data(ckpt, _array_checksums(cache_dir), normalization)


def evaluate_model(args: argparse.Namespace) -> None:
    from maskflow.inference import predict_proba
    from maskflow.models.checkpoint import check_checkpoint, is_numpy, load_checkpoint, model_of

    cache_dir = Path(args.cache_dir)
    ckpt = load_checkpoint(args.checkpoint)
    model, device = None, "cpu"  # a NumPy checkpoint runs from its own weights, without torch
    if not is_numpy(ckpt):
        from maskflow.runtime.device import configure, resolve_device

        # Evaluation is a few forward passes: CPU, deterministic kernels, the rule's threads.
        device = resolve_device("cpu")
        configure(device, max(1, args.threads))
        model = model_of(ckpt, device)
    # Refuse a checkpoint left by an unfinished run, one copied from another model's folder, or
    # one with damaged weights.
    check_checkpoint(ckpt, model=args.model)
    _verify(ckpt, cache_dir, args.normalization)
    classes = list(ckpt["classes"])
    seal = integrity.read_seal(args.normalization)
    spec = ckpt.get("spec") or {}
    splits = {split: integrity.load_split(cache_dir, split, classes=classes, seal=seal) for split in SPLITS}
    prior = class_prior(splits["train"].y, len(classes))
    frames = {}
    for split, cached in splits.items():
        x, y, index = cached.x, cached.y, cached.index
        proba = (
            predict_proba(model, ckpt, x, device, batch_size=args.batch_size) if len(x) else np.zeros((0, len(classes)))
        )
        frames[split] = prediction_frame(index, y, np.asarray(proba, dtype=np.float64), classes, prior)
    name = spec.get("name") or Path(args.checkpoint).parent.name
    document = metrics_document(name, spec.get("dataset", ""), "model", classes, prior, frames)
    document["spec"] = spec
    document["training"] = {field: ckpt[field] for field in TRAINING_FIELDS if field in ckpt}
    if args.explanations:
        # the model is loaded here: its figures' gradients and activations cost milliseconds now,
        # and their jobs need not import torch to plot them (maskflow.evaluation.explain)
        from maskflow.evaluation.explain import explanations, write_explanations

        test = splits["test"]
        write_explanations(args.explanations, explanations(ckpt, model, test.x, test.y))
    write_outputs(args.out_dir, args.metrics, frames, document)


# --------------------------------------------------------------------------- ensembles


def _member_frame(models_dir: Path, member: str, split: str, classes: list[str] | None) -> pd.DataFrame:
    import pandas as pd

    path = models_dir / member / f"predictions_{split}.csv"
    if not path.is_file():
        raise DataError(f"{path}: predictions of ensemble member {member!r} not found (evaluate it first)")
    frame = pd.read_csv(path, keep_default_na=False, dtype={"row_id": str, "photo": str, "true": str})
    if classes is not None and [c[2:] for c in frame.columns if c.startswith("p_")] != classes:
        raise DataError(
            f"{path}: member {member!r} predicts classes {[c[2:] for c in frame.columns if c.startswith('p_')]}, expected {classes}"
        )
    return frame


def average_members(models_dir: Path, members: list[str], split: str) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """(first member's frame, mean probability N x K, classes) after checking the rows pair up."""
    first = _member_frame(models_dir, members[0], split, None)
    classes = [c[2:] for c in first.columns if c.startswith("p_")]
    columns = [f"p_{c}" for c in classes]
    total = first[columns].to_numpy(dtype=np.float64)
    for member in members[1:]:
        frame = _member_frame(models_dir, member, split, classes)
        if not frame["row_id"].equals(first["row_id"]):
            raise DataError(
                f"{models_dir / member}/predictions_{split}.csv: rows differ from {members[0]}'s; ensemble members "
                "must be evaluated on the same cached data"
            )
        total += frame[columns].to_numpy(dtype=np.float64)
    return first, total / len(members), classes


def _member_training(models_dir: Path, members: list[str]) -> dict:
    """Sum of the members' parameters and training seconds (what the ensemble costs)."""
    totals = {"param_count": 0, "train_seconds": 0.0}
    for member in members:
        path = models_dir / member / "metrics.json"
        training = json.loads(path.read_text()).get("training", {}) if path.is_file() else {}
        for key in totals:
            totals[key] += training.get(key) or 0
    return totals


def evaluate_ensemble(args: argparse.Namespace) -> None:
    spec = json_option(args.ensemble, "--ensemble")
    if not isinstance(spec.get("members"), list) or not spec["members"]:
        raise ConfigError('--ensemble must be {"members": [...], ...}')
    members = list(spec["members"])
    models_dir = Path(args.models_dir)
    cache_dir = Path(args.cache_dir)
    frames, classes, prior = {}, None, None
    for split in SPLITS:
        first, proba, classes = average_members(models_dir, members, split)
        lookup = {c: i for i, c in enumerate(classes)}
        if prior is None:
            prior = train_prior(cache_dir, len(classes))
        y_true = first["true"].map(lookup).to_numpy(dtype=np.int64)
        frames[split] = prediction_frame(first, y_true, proba, classes, prior)
    document = metrics_document(spec["name"], spec.get("dataset", ""), "ensemble", classes, prior, frames)
    document["members"] = members
    document["spec"] = spec
    document["training"] = _member_training(models_dir, members)
    write_outputs(args.out_dir, args.metrics, frames, document)


# How the one command dispatches: which argument names the thing to evaluate.
EVALUATORS = {"checkpoint": evaluate_model, "ensemble": evaluate_ensemble}


def run(args: argparse.Namespace) -> None:
    kind = next(key for key in EVALUATORS if getattr(args, key))
    EVALUATORS[kind](args)
