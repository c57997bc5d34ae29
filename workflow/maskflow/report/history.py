"""The report's History section: per dataset, the models changed since their previous run (setting
diffs, metric deltas), the latest run of every model, and the figure of test accuracy over runs.

Reads the files the tracking step writes (maskflow.tracking.summary: history.json, history.png),
so the report job never imports MLflow. `history_section(dataset_plan)` returns "" when the plan
has no history (tracking off).
"""

from __future__ import annotations

import datetime as dt

from maskflow.io.files import read_json
from maskflow.report.html import anchor, esc, image, table


def _score(run: dict, key: str) -> str:
    value, delta = run["metrics"].get(key), (run.get("deltas") or {}).get(key)
    if value is None:
        return "–"
    return f"{value:.3f}" + (f" ({delta:+.3f})" if delta is not None else "")


def _row(run: dict) -> dict:
    changes = run.get("changes") or []
    listed = "<br>".join(f"<code>{esc(change)}</code>" for change in changes)
    return {
        "model": run["model"],
        "run": run.get("number"),
        "trained": dt.datetime.fromtimestamp(run["start"] / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "test": _score(run, "test_accuracy"),
        "balanced": _score(run, "test_balanced_accuracy"),
        "changes_html": listed or ("first run" if run.get("number") == 1 else "no setting changed"),
    }


COLUMNS = {
    "model": "model",
    "run": "run",
    "trained": "trained",
    "test": "test acc. (change)",
    "balanced": "test bal. acc. (change)",
    "changes_html": "settings changed since its previous run",
}


def history_section(dataset: dict) -> str:
    files = dataset.get("history")
    if not files:
        return ""
    document = read_json(files["table"], "history.json")
    runs = document.get("runs") or []
    name = dataset["name"]
    parts = [f'<h2 id="{anchor("history", name)}">History of {esc(name)}</h2>']
    parts.append(
        f"<p>Every training is an MLflow run in <code>{esc(document.get('uri'))}</code>, experiment "
        f"<code>{esc(document.get('experiment'))}</code> ({len(runs)} runs). <code>maskflow history --dataset "
        f"{esc(name)}</code> lists the same; <code>make ui</code> opens them in MLflow's UI.</p>"
    )
    changed = [run for run in runs if run.get("new") and run.get("number", 1) > 1]
    if changed:
        parts.append(
            "<h4>Changed since the previous run</h4>" + table([_row(r) for r in changed], COLUMNS, ["model", "trained"])
        )
    else:
        parts.append("<p>No model was retrained since its previous run in the last invocation.</p>")
    latest, seen = [], set()
    for run in runs:  # newest first
        if run["model"] not in seen:
            seen.add(run["model"])
            latest.append(run)
    parts.append("<h4>Latest run of each model</h4>" + table([_row(r) for r in latest], COLUMNS, ["model", "trained"]))
    parts.append(image(files["plot"], f"{name} history", "Test accuracy of each model over its runs."))
    return "".join(parts)
