"""What one MLflow run holds, read from a model's files (no MLflow here).

    record = build_record(files, settings)

`files` (paths, from the track rule): metrics (metrics.json), history (history.csv; models only),
artifacts ({folder: [paths]}: what is copied), members (the members' metrics.json; ensembles
only). `settings`: experiment, base, repo_dir. Tags say what the run is (dataset, model, kind,
sweep, base, seed, versions, git commit and dirty flag, the cache's data checksum, the training
id); params are the model's resolved settings as dotted keys (`train.lr`, `arch.blocks.0.kernel`);
metrics are the per-epoch history as step series at the epochs' own times and the final
per-split scores of each decision rule.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from maskflow.errors import DataError
from maskflow.io.files import read_json
from maskflow.tracking.identity import INVOCATION_ENV, ensemble_id

# Keys of a resolved model that are not settings of the training (or repeat a tag).
NOT_PARAMS = ("name", "dataset", "description", "figures", "kind", "group", "sweep", "sweep_values", "members")
# history.csv columns logged as step series (step = epoch).
SERIES = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
SCORES = ("accuracy", "balanced_accuracy", "macro_f1")
# decision rule -> metric name part ("argmax" is the headline: test_accuracy)
RULES = {"argmax": "", "prior_corrected": "prior_corrected_", "above_prior": "above_prior_"}
PARAM_LIMIT = 6000  # MLflow's longest param value


@dataclass
class Record:
    name: str
    experiment: str
    training_id: str
    tags: dict[str, str]
    params: dict[str, str]
    series: dict[str, list[tuple[int, float, int]]]  # name -> (step, value, unix ms)
    final: dict[str, float]
    start_ms: int
    end_ms: int
    artifacts: dict[str, list[str]] = field(default_factory=dict)


def flatten(value, prefix: str = "") -> dict[str, str]:
    """{"train": {"lr": 0.001}} -> {"train.lr": "0.001"}; lists by index (`arch.blocks.0.kernel`)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else None
    if items is None or not value:
        text = json.dumps(value) if not isinstance(value, str) else value
        return {prefix: text[:PARAM_LIMIT]} if prefix else {}
    flat = {}
    for key, item in items:
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def final_scores(metrics: dict) -> dict[str, float]:
    """`test_accuracy`, `test_prior_corrected_macro_f1`, ...: each split x decision rule x score."""
    scores = {}
    for split, entry in (metrics.get("splits") or {}).items():
        for rule, infix in RULES.items():
            values = entry if rule == "argmax" else entry.get(rule) or {}
            for score in SCORES:
                if values.get(score) is not None:
                    scores[f"{split}_{infix}{score}"] = float(values[score])
    return scores


def read_history(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def history_series(rows: list[dict], epoch_times: list[float] | None, end_ms: int) -> dict:
    """history.csv as step series; each point at its epoch's end (the training's own clock)."""
    series: dict[str, list] = {}
    for index, row in enumerate(rows):
        stamp = int(epoch_times[index] * 1000) if epoch_times and index < len(epoch_times) else end_ms
        for column in SERIES:
            if row.get(column) not in (None, ""):
                series.setdefault(column, []).append((int(row["epoch"]), float(row[column]), stamp))
    return series


def data_checksum(training: dict) -> str:
    """One checksum of the cached arrays a model was trained on (the checkpoint has one per array)."""
    sha = training.get("data_sha256") or {}
    return hashlib.sha256(json.dumps(sha, sort_keys=True).encode()).hexdigest()[:16] if sha else ""


def fallback_id(metrics: dict) -> str:
    """A model trained before checkpoints carried an id: one derived from what its training left."""
    training = metrics.get("training") or {}
    text = json.dumps(
        [metrics.get("model"), training.get("train_seconds"), training.get("val_metrics")], sort_keys=True
    )
    return "legacy-" + hashlib.sha256(text.encode()).hexdigest()[:24]


@functools.cache
def checkout_state(repo_dir: str) -> dict:
    """The git commit and dirty flag of the code, read once a process: the history job builds a
    record for each of a sweep's members, and each read is three `git` calls."""
    from maskflow.report.provenance import git_info

    return git_info(repo_dir)


def build_record(files: dict, settings: dict) -> Record:
    metrics = read_json(files["metrics"], "metrics.json")
    spec, training = metrics.get("spec") or {}, metrics.get("training") or {}
    name, kind = metrics.get("model") or spec.get("name"), metrics.get("kind") or "model"
    if not name:
        raise DataError(f"{files['metrics']}: no `model` name; evaluate the model again")
    run = training.get("training_run") or {}
    if kind == "ensemble":
        members = [read_json(path, "metrics.json") for path in files.get("members") or []]
        member_ids = [(m.get("training") or {}).get("training_run", {}).get("id") or fallback_id(m) for m in members]
        training_id = ensemble_id(name, member_ids)
        starts = [
            m["training"]["training_run"]["started"] for m in members if (m.get("training") or {}).get("training_run")
        ]
        ends = [
            m["training"]["training_run"]["finished"] for m in members if (m.get("training") or {}).get("training_run")
        ]
        run = {"started": min(starts) if starts else None, "finished": max(ends) if ends else None}
    else:
        training_id = run.get("id") or fallback_id(metrics)
    mtime = os.path.getmtime(files["metrics"])
    start_ms = int(1000 * (run.get("started") or mtime))
    end_ms = int(1000 * (run.get("finished") or mtime))
    git = checkout_state(settings.get("repo_dir") or ".")
    versions = training.get("versions") or {}
    tags = {
        "maskflow.dataset": metrics.get("dataset") or spec.get("dataset", ""),
        "maskflow.model": name,
        "maskflow.kind": kind,
        "maskflow.sweep": spec.get("sweep") or "",
        "maskflow.base": settings.get("base") or "",
        "maskflow.seed": "" if spec.get("seed") is None else str(spec.get("seed")),
        "maskflow.version": versions.get("maskflow") or _maskflow_version(),
        "maskflow.git_commit": git["commit"] or "",
        "maskflow.git_dirty": "" if git["dirty"] is None else str(git["dirty"]).lower(),
        "maskflow.data_sha256": data_checksum(training),
        "maskflow.training_id": training_id,
        "maskflow.invocation": os.environ.get(INVOCATION_ENV, ""),
        "mlflow.note.content": spec.get("description") or "",
    }
    if kind == "ensemble":
        tags["maskflow.members"] = ",".join(spec.get("members") or [])
    params = flatten({k: v for k, v in spec.items() if k not in NOT_PARAMS})
    rows = read_history(files["history"]) if files.get("history") else []
    return Record(
        name=name,
        experiment=settings["experiment"],
        training_id=training_id,
        tags={k: v for k, v in tags.items() if v != ""},
        params=params,
        series=history_series(rows, run.get("epoch_times"), end_ms),
        final=final_scores(metrics),
        start_ms=start_ms,
        end_ms=end_ms,
        artifacts=files.get("artifacts") or {},
    )


@functools.cache
def _maskflow_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("maskflow")
    except metadata.PackageNotFoundError:
        return ""
