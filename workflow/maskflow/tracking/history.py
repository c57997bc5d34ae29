"""`maskflow history`: a dataset's or one model's runs, newest first, with what changed and what it did.

    maskflow history --dataset masks                         # latest run of each model; * = new in the last invocation
    maskflow history --dataset masks --model cnn_baseline    # every run of one model
    maskflow history --dataset masks --format markdown       # table | csv | markdown
    maskflow history --dataset masks --uri http://host:5000 --experiment masks

Each run shows when it trained, the settings that changed since that model's previous run, one
per line as `train.lr: 0.001 -> 0.002`, and its test accuracy and balanced accuracy with their
change. The store and experiment default to the `tracking:` block of ./config.yaml (or
--configfile), else MLflow's default `sqlite:///mlflow.db` and the dataset's name. The report's
History section reads the same rows (maskflow.tracking.summary).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
from pathlib import Path

from maskflow.errors import ConfigError
from maskflow.tracking import store

HEADLINE = ("test_accuracy", "test_balanced_accuracy")
MISSING = "<none>"


def runs_of(client, experiment: str, model: str | None = None) -> list[dict]:
    """Finished runs of an experiment (optionally one model), oldest first, as plain dicts."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    query = "attributes.status = 'FINISHED'" + (f" and tags.`maskflow.model` = '{model}'" if model else "")
    rows, token = [], None
    while True:
        page = client.search_runs(
            [found.experiment_id], query, max_results=1000, order_by=["attributes.start_time ASC"], page_token=token
        )
        for run in page:
            tags = run.data.tags
            rows.append(
                {
                    "run_id": run.info.run_id,
                    "model": tags.get("maskflow.model") or run.info.run_name,
                    "kind": tags.get("maskflow.kind", "model"),
                    "start": run.info.start_time,
                    "end": run.info.end_time or run.info.start_time,
                    "invocation": tags.get("maskflow.invocation", ""),
                    "params": dict(run.data.params),
                    "metrics": {k: run.data.metrics.get(k) for k in HEADLINE},
                }
            )
        token = page.token
        if not token:
            return rows


def changes(before: dict | None, after: dict) -> list[str]:
    """`key: old -> new` for every setting that differs (a first run has none)."""
    if before is None:
        return []
    keys = sorted(set(before) | set(after))
    return [f"{k}: {before.get(k, MISSING)} -> {after.get(k, MISSING)}" for k in keys if before.get(k) != after.get(k)]


def with_changes(rows: list[dict]) -> list[dict]:
    """Each run with its changes and metric deltas against the same model's previous run; newest first.
    `new` marks the runs of the last invocation (that of the most recently finished run)."""
    last = max(rows, key=lambda r: r["end"])["invocation"] if rows else ""
    previous: dict[str, dict] = {}
    out = []
    for row in sorted(rows, key=lambda r: (r["start"], r["end"])):
        before = previous.get(row["model"])
        deltas = {
            key: (row["metrics"][key] - before["metrics"][key])
            if before and row["metrics"][key] is not None and before["metrics"][key] is not None
            else None
            for key in HEADLINE
        }
        number = (before["number"] + 1) if before else 1
        entry = {
            **row,
            "number": number,
            "changes": changes(before and before["params"], row["params"]),
            "deltas": deltas,
        }
        entry["new"] = bool(last) and row["invocation"] == last
        previous[row["model"]] = entry
        out.append(entry)
    return out[::-1]


def latest_per_model(rows: list[dict]) -> list[dict]:
    """The newest run of each model (rows newest first), in that order."""
    seen, out = set(), []
    for row in rows:
        if row["model"] not in seen:
            seen.add(row["model"])
            out.append(row)
    return out


def when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def score(row: dict, key: str) -> str:
    value, delta = row["metrics"][key], row["deltas"][key]
    if value is None:
        return "-"
    return f"{value:.4f}" + (f" ({delta:+.4f})" if delta is not None else "")


def flat(row: dict) -> dict:
    return {
        "model": row["model"],
        "run": row["number"],
        "trained": when(row["start"]),
        "new": "*" if row["new"] else "",
        "test_accuracy": score(row, "test_accuracy"),
        "test_balanced_accuracy": score(row, "test_balanced_accuracy"),
        "changes": row["changes"],
        "run_id": row["run_id"],
    }


def render(rows: list[dict], fmt: str) -> str:
    records = [flat(row) for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]) if records else ["model"], lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "changes": "; ".join(record["changes"])})
        return buffer.getvalue()
    if fmt == "markdown":
        lines = ["| model | run | trained | new | test acc. (change) | test bal. acc. (change) | settings changed |"]
        lines.append("|---|---|---|---|---|---|---|")
        for r in records:
            changed = "<br>".join(f"`{c}`" for c in r["changes"]) or "-"
            lines.append(
                f"| {r['model']} | {r['run']} | {r['trained']} | {r['new']} | {r['test_accuracy']} "
                f"| {r['test_balanced_accuracy']} | {changed} |"
            )
        return "\n".join(lines) + "\n"
    lines = []
    for r in records:
        mark = " *" if r["new"] else ""
        lines.append(
            f"{r['model']}{mark}  run {r['run']}, trained {r['trained']}  test accuracy {r['test_accuracy']}  "
            f"balanced accuracy {r['test_balanced_accuracy']}"
        )
        lines += [f"    {change}" for change in r["changes"]] or (
            ["    (first run)"] if r["run"] == 1 else ["    (no setting changed)"]
        )
    if any(r["new"] for r in records):
        lines.append("* trained in the last invocation")
    return "\n".join(lines) + "\n"


def defaults(configfile: str | None) -> dict:
    """tracking: settings of a config file (./config.yaml when present), else MLflow's default store."""
    import yaml

    from maskflow.config import TRACKING_DEFAULTS

    path = Path(configfile or "config.yaml")
    block = {}
    if path.is_file():
        block = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("tracking") or {}
    elif configfile:
        raise ConfigError(f"--configfile {configfile}: no such file")
    return {**TRACKING_DEFAULTS, **block}


def open_history(uri: str):
    """A client on an existing store; a missing SQLite file is a clear error, not a new empty store."""
    if store.is_sqlite(uri) and not store.sqlite_path(uri).is_file():
        raise ConfigError(f"no run history at {uri} ({store.sqlite_path(uri)} does not exist): run the workflow first")
    try:
        return store.client(uri)
    except Exception as error:
        raise store.StoreError(store.explain(uri, error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="the dataset (its experiment is named after it by default)")
    parser.add_argument("--model", help="one model's runs; default: the latest run of each model")
    parser.add_argument("--format", choices=("table", "csv", "markdown"), default="table")
    parser.add_argument("--uri", help="MLflow tracking URI (default: tracking.uri of the config, sqlite:///mlflow.db)")
    parser.add_argument(
        "--experiment", help="experiment name (default: tracking.experiment of the config, the dataset)"
    )
    parser.add_argument("--configfile", help="config whose tracking: block names the store (default ./config.yaml)")


def run(args: argparse.Namespace) -> None:
    settings = defaults(args.configfile)
    uri = args.uri or settings["uri"]
    experiment = args.experiment or settings["experiment"].format(dataset=args.dataset)
    client = open_history(uri)
    try:
        rows = with_changes(runs_of(client, experiment))
    except Exception as error:
        raise store.StoreError(store.explain(uri, error)) from None
    if not rows:
        raise ConfigError(f"{uri}: no recorded run in experiment {experiment!r}")
    if args.model:
        rows = [row for row in rows if row["model"] == args.model]
        if not rows:
            raise ConfigError(f"{uri}: no recorded run of model {args.model!r} in experiment {experiment!r}")
    else:
        rows = latest_per_model(rows)
    print(render(rows, args.format), end="")
