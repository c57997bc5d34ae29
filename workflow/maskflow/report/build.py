"""`maskflow report`: the one self-contained HTML report of an experiment (`results/report.html`).

    maskflow report --plan results/report_plan.json --out results/report.html

The plan (built by the report rule, which owns every path) lists each dataset's files (quality
report, class counts, statistics figures, comparison, sweeps) and each model's metrics and
figures. The report embeds every PNG as a base64 data URI and its CSS inline, so the single
file opens offline, can be mailed, and never breaks a link. Each PNG is stored at the size it is
shown (report.html.display_png), so the file stays small enough to mail and quick to open.
Sections: first the summary (each dataset's comparison, with McNemar p-values against the
baseline, and its sweeps), then the data sets, one folded section per model (a <details> the
reader opens: settings, metrics and figures), and provenance (git commit and dirty flag, config
hash, package versions, device, seeds, data checksums and the command that reproduces the
results).

A small inline script marks `<body data-images-ok="yes">` once every image has decoded, which
the browser test reads back from headless Chromium.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
from pathlib import Path

import pandas as pd

from maskflow.compare.table import GROUP_COLUMNS
from maskflow.errors import ConfigError
from maskflow.io import atomic
from maskflow.io.files import read_json
from maskflow.options import json_option
from maskflow.report import provenance
from maskflow.report.history import history_section
from maskflow.report.html import (
    IMAGE_CHECK,
    STYLE,
    anchor,
    embed_figures,
    esc,
    fmt,
    fmt_p,
    image,
    settings_list,
    table,
)
from maskflow.report.models import model_section

log = logging.getLogger(__name__)

STATS_TEXT = {
    "class_balance": "Crops per class in each split.",
    "examples": "Example training crops of each class, as the models see them.",
    "box_sizes": "Box sizes in source pixels per class.",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan",
        required=True,
        help="a JSON file (or JSON text): title, datasets with their files and models (from report.smk)",
    )
    parser.add_argument("--out", required=True, help="report.html to write")
    parser.add_argument(
        "--cores",
        default=os.environ.get("MASKFLOW_CORES"),
        help="the --cores the run was given, for the Reproduce command (default: $MASKFLOW_CORES, set by report.smk)",
    )
    parser.add_argument("--threads", type=int, default=1, help="processes shrinking the figures to embed")


# --------------------------------------------------------------------------- data sets


def counts_table(path: str | Path, classes: list[str]) -> str:
    counts = pd.read_csv(path)
    rows = []
    for split in ["train", "val", "test"]:
        part = counts[counts["split"] == split].set_index("label")
        row = {"split": split}
        for label in classes:
            if label in part.index:
                row[label] = f"{int(part.loc[label, 'count'])} ({100 * float(part.loc[label, 'ratio']):.1f} %)"
        row["total"] = int(part["count"].sum()) if len(part) else 0
        rows.append(row)
    return table(rows, {"split": "split", **{c: c for c in classes}, "total": "total"}, text_columns=["split"])


def quality_block(path: str | Path) -> str:
    quality = read_json(path, "quality report")
    kept, read = quality.get("rows_kept"), quality.get("rows_read")
    parts = [f"<p>{esc(kept)} of {esc(read)} annotation rows kept.</p>"]
    reasons = {k: v for k, v in (quality.get("counts") or {}).items() if v}
    if reasons:
        parts.append(
            table(
                [{"reason": k, "rows": v} for k, v in sorted(reasons.items())],
                {"reason": "reason", "rows": "rows"},
                ["reason"],
            )
        )
    else:
        parts.append("<p>No row was dropped or repaired.</p>")
    for kind in ("dropped", "repaired"):
        entries = quality.get(kind) or []
        if entries:
            shown = entries[:50]
            more = f" (first {len(shown)} of {len(entries)})" if len(entries) > len(shown) else ""
            parts.append(
                f"<details><summary>{len(entries)} rows {kind}{more}</summary>"
                + table(
                    shown,
                    {"file": "file", "row": "row", "reason": "reason", "detail": "detail"},
                    ["file", "reason", "detail"],
                )
                + "</details>"
            )
    return "".join(parts)


def dataset_section(dataset: dict) -> str:
    name = dataset["name"]
    parts = [f'<h2 id="{anchor("data", name)}">Data set {esc(name)}</h2>']
    if dataset.get("description"):
        parts.append(f"<p>{esc(dataset['description'])}</p>")
    parts.append(
        settings_list(
            {
                "source": dataset.get("source"),
                "annotation format": dataset.get("annotations_format"),
                "classes": dataset.get("classes"),
                "split": dataset.get("split"),
                "preprocess": dataset.get("preprocess"),
                "baseline model": dataset.get("baseline") or "none",
            }
        )
    )
    if dataset.get("manifest"):
        summary = provenance.manifest_summary(dataset["manifest"])
        parts.append(f"<p class=muted>Raw data: {summary['files']} files, {summary['bytes']:,} bytes.</p>")
    parts.append("<h4>Class balance</h4>" + counts_table(dataset["counts"], dataset["classes"]))
    parts.append("<h4>Quality report</h4>" + quality_block(dataset["quality"]))
    for figure, path in (dataset.get("stats_figures") or {}).items():
        parts.append(image(path, f"{name} {figure}", STATS_TEXT.get(figure, figure)))
    return "".join(parts)


# --------------------------------------------------------------------------- comparison and sweeps

RUN_COLUMNS = {
    "model": "model",
    "arch": "architecture",
    "optimizer": "optimizer",
    "lr": "lr",
    "batch_size": "batch",
    "imbalance": "imbalance",
    "augment": "augment",
    "seed": "seed",
    "param_count": "params",
    "best_epoch": "best epoch",
    "train_accuracy": "train acc.",
    "val_accuracy": "val acc.",
    "test_accuracy": "test acc.",
    "test_balanced_accuracy": "test bal. acc.",
    "test_macro_f1": "test macro F1",
    "test_balanced_accuracy_prior": "test bal. acc. (prior-corr.)",
    "train_seconds": "train s",
    "baseline": "vs",
    "mcnemar_p": "McNemar p",
}


# Columns of comparison_groups.csv the report shows (as "mean ± std"), in GROUP_COLUMNS order.
GROUP_LABELS = {
    "val_accuracy": "val acc.",
    "test_accuracy": "test acc.",
    "test_balanced_accuracy": "test bal. acc.",
    "test_macro_f1": "test macro F1",
    "test_balanced_accuracy_prior": "bal. acc. (prior-corr.)",
    "train_seconds": "train s",
}


def _mean_std(record: dict, column: str) -> str:
    mean, std = record.get(f"{column}_mean"), record.get(f"{column}_std")
    if mean is None or pd.isna(mean):
        return "–"
    return f"{mean:.3f}" if std is None or pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def comparison_section(dataset: dict) -> str:
    files = dataset["comparison"]
    name = dataset["name"]
    # Nullable dtypes keep whole-number columns with gaps (an ensemble has no seed) as integers.
    runs = pd.read_csv(files["table"], dtype_backend="numpy_nullable")
    groups = pd.read_csv(files["groups"], dtype_backend="numpy_nullable")
    parts = [f'<h2 id="{anchor("compare", name)}">Comparison on {esc(name)}</h2>']
    baseline = dataset.get("baseline")
    parts.append(
        "<p>Test-split scores. Replicates (the same model trained with several seeds) are summarised as mean ± standard "
        "deviation. <em>McNemar p</em> is the exact McNemar test of the model against "
        + (f"the baseline <b>{esc(baseline)}</b>" if baseline else "the baseline (none configured)")
        + " on the same test crops: a small p (say below 0.05) means the two models' errors differ more than chance "
        "explains. Prior-corrected: each probability divided by the training class prior before the argmax.</p>"
    )
    group_rows = []
    for record in _records(groups):
        row = {"group": record["group"], "kind": record["kind"], "n_runs": record["n_runs"]}
        for column in GROUP_COLUMNS:
            if column in GROUP_LABELS:
                row[column] = _mean_std(record, column)
        row["p"] = fmt_p(record.get("mcnemar_p_median"))
        group_rows.append(row)
    parts.append(
        table(
            group_rows,
            {
                "group": "model",
                "kind": "kind",
                "n_runs": "runs",
                **GROUP_LABELS,
                "p": "McNemar p (median)",
            },
            ["group", "kind"],
        )
    )
    parts.append(
        image(
            files["plot"],
            f"{name} comparison",
            "Test scores per model (diamond: mean over seeds, error bar: standard deviation, dots: seeds; "
            "points, not bars: the axis is zoomed to the scores).",
        )
    )
    run_rows = [{**record, "mcnemar_p": fmt_p(record.get("mcnemar_p"))} for record in _records(runs)]
    parts.append(
        "<h4>Every run</h4>"
        + table(
            run_rows,
            {k: v for k, v in RUN_COLUMNS.items() if k in runs.columns},
            ["model", "arch", "optimizer", "imbalance", "augment", "baseline"],
        )
    )
    for sweep in dataset.get("sweeps") or []:
        parts.append(sweep_section(name, sweep))
    return "".join(parts)


def sweep_section(dataset: str, sweep: dict) -> str:
    frame = pd.read_csv(sweep["table"], dtype_backend="numpy_nullable")
    columns = {c: c.replace("_", " ") for c in frame.columns}
    return (
        f'<h3 id="{anchor("sweep", dataset, sweep["name"])}">Sweep {esc(sweep["name"])}</h3>'
        + sweep_members_note(sweep)
        + table(_records(frame), columns, ["model"])
        + image(sweep["plot"], f"sweep {sweep['name']}", "Scores across the grid.")
        + image(
            sweep["curves"], f"sweep {sweep['name']} curves", "Learning curves of every model of the sweep, overlaid."
        )
    )


def sweep_members_note(sweep: dict) -> str:
    """What the report shows of a sweep's members: this table and plots, and the sections of the
    members its `figures:` lists."""
    if "members" not in sweep:
        return ""
    shown = sweep.get("shown") or []
    listed = (
        f"{len(shown)} of them ({esc(', '.join(shown))}) also have a section with their figures under Models"
        if shown
        else "list members under the sweep's <code>figures:</code> for sections with their own figures"
    )
    return f"<p class=muted>{sweep['members']} members, compared in this table and these plots; {listed}.</p>"


# --------------------------------------------------------------------------- provenance


def provenance_section(plan: dict) -> str:
    info = provenance.collect(plan.get("repo_dir") or ".")
    git = info["git"]
    commit = git["commit"] or "not a git checkout"
    dirty = {
        True: '<span class="warn">yes: uncommitted changes, the commit alone does not reproduce this</span>',
        False: '<span class="good">no</span>',
        None: "unknown",
    }[git["dirty"]]
    parts = ['<h2 id="provenance">Provenance</h2>']
    parts.append(
        "<table><tbody>"
        f'<tr><th class="text">git commit</th><td class="text"><code>{esc(commit)}</code> ({esc(git.get("branch") or "")})</td></tr>'
        f'<tr><th class="text">tree dirty</th><td class="text">{dirty}</td></tr>'
        f'<tr><th class="text">config hash</th><td class="text"><code>{esc(plan.get("config_hash"))}</code> (config files: {esc(", ".join(plan.get("configfiles") or []) or "none")})</td></tr>'
        f'<tr><th class="text">device</th><td class="text">{esc(info["device"]["cpu"])}, {esc(info["device"]["cores"])} cores; GPU: {esc(info["device"]["gpu"] or "none")}; {esc(info["device"]["platform"])}</td></tr>'
        f'<tr><th class="text">report written</th><td class="text">{esc(dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))}</td></tr>'
        "</tbody></table>"
    )
    command = plan.get("command") or "snakemake --cores all all"
    if str(plan.get("cores") or "").isdigit():  # the run's real core count, passed by report.smk
        command = command.replace("--cores all", f"--cores {plan['cores']}", 1)
    checkout = f"git checkout {git['commit']}\n" if git["commit"] else ""
    parts.append(f"<h4>Reproduce</h4><pre>{esc(checkout + command)}</pre>")
    parts.append(
        "<h4>Package versions</h4>"
        + table(
            [{"package": k, "version": v} for k, v in info["versions"].items()],
            {"package": "package", "version": "version"},
            ["package", "version"],
        )
    )
    parts.append(seeds_and_checksums(plan))
    return "".join(parts)


def seeds_and_checksums(plan: dict) -> str:
    rows = []
    for dataset in plan["datasets"]:
        manifest = provenance.manifest_summary(dataset["manifest"]) if dataset.get("manifest") else {}
        for model in dataset["models"]:
            metrics = read_json(model["metrics"], "metrics.json")
            training = metrics.get("training") or {}
            sha = training.get("data_sha256") or {}
            rows.append(
                {
                    "dataset": dataset["name"],
                    "model": metrics["model"],
                    "seed": (metrics.get("spec") or {}).get("seed"),
                    "split_seed": (dataset.get("split") or {}).get("seed"),
                    "source_seed": (dataset.get("source") or {}).get("seed"),
                    "raw": manifest.get("sha256_of_files", "")[:16],
                    "train_x": (sha.get("train_x") or "")[:16],
                    "val_x": (sha.get("val_x") or "")[:16],
                    "device": training.get("device"),
                    "versions": ", ".join(f"{k} {v}" for k, v in (training.get("versions") or {}).items()),
                }
            )
    columns = {
        "dataset": "data set",
        "model": "model",
        "seed": "model seed",
        "split_seed": "split seed",
        "source_seed": "source seed",
        "raw": "raw files sha256",
        "train_x": "train_x sha256",
        "val_x": "val_x sha256",
        "device": "trained on",
        "versions": "trained with",
    }
    return (
        f"<h4>Seeds and data checksums</h4><p>Global seed {esc(plan.get('seed'))}. Checksums are the first 16 hex digits of "
        "sha256: of the raw files (over the manifest's per-file checksums) and of the cached arrays each model was trained on "
        "(from its checkpoint).</p>" + table(rows, columns, list(columns))
    )


# --------------------------------------------------------------------------- page


def model_details(dataset: str, model: dict, detailed: bool) -> str:
    """One model's section folded in a closed <details>; its summary line names the model and its test scores."""
    metrics = read_json(model["metrics"], "metrics.json")
    test = metrics["splits"].get("test") or {}
    scores = ", ".join(
        f"{label} {fmt(test.get(key))}"
        for key, label in (("accuracy", "test accuracy"), ("balanced_accuracy", "balanced"), ("macro_f1", "macro F1"))
        if test.get(key) is not None
    )
    line = f"<b>{esc(metrics['model'])}</b> <span class=muted>({esc(metrics.get('kind'))}{', ' if scores else ''}{esc(scores)})</span>"
    return f'<details class="model"><summary>{line}</summary>{model_section(dataset, model, detailed)}</details>'


def build_html(plan: dict) -> str:
    title = plan.get("title") or "maskflow report"
    limit = plan.get("max_models_detailed")
    nav, body = [], []
    # Summary first: the comparisons are what a reader opens the report for.
    for dataset in plan["datasets"]:
        if dataset.get("comparison"):
            nav.append(f'<a href="#{anchor("compare", dataset["name"])}">comparison: {esc(dataset["name"])}</a>')
            body.append(comparison_section(dataset))
    for dataset in plan["datasets"]:
        if dataset.get("history"):
            nav.append(f'<a href="#{anchor("history", dataset["name"])}">history: {esc(dataset["name"])}</a>')
            body.append(history_section(dataset))
    for dataset in plan["datasets"]:
        nav.append(f'<a href="#{anchor("data", dataset["name"])}">data: {esc(dataset["name"])}</a>')
        body.append(dataset_section(dataset))
        body.append(
            f'<h2 id="{anchor("models", dataset["name"])}">Models on {esc(dataset["name"])}</h2>'
            "<p class=muted>Each model is folded: open it for its settings, metrics and figures.</p>"
        )
        nav.append(f'<a href="#{anchor("models", dataset["name"])}">models: {esc(dataset["name"])}</a>')
        for position, model in enumerate(dataset["models"]):
            body.append(model_details(dataset["name"], model, limit is None or position < limit))
    nav.append('<a href="#provenance">provenance</a>')
    body.append(provenance_section(plan))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
        f"<style>{STYLE}</style><script>{IMAGE_CHECK}</script></head>"
        f"<body><nav>{''.join(nav)}</nav><main><h1>{esc(title)}</h1>"
        "<p class=muted>Made by maskflow from the workflow's results; every figure is embedded, so this file opens offline.</p>"
        f"{''.join(body)}</main></body></html>\n"
    )


def run(args: argparse.Namespace) -> None:
    # The workflow passes a file: a plan of hundreds of models outgrows one command-line argument.
    text = args.plan
    if not text.lstrip().startswith("{"):
        if not Path(text).is_file():
            raise ConfigError(f"--plan: {text}: no such file (give results/report_plan.json or the plan as JSON text)")
        text = Path(text).read_text(encoding="utf-8")
    plan = json_option(text, "--plan")
    # Not in the plan file: a new core count must not rerun the plan (its params), only be shown.
    plan["cores"] = args.cores
    text = embed_figures(lambda: build_html(plan), workers=max(1, args.threads))
    atomic.write_text(args.out, text)
    log.info("report: %s (%.1f MB)", args.out, len(text) / 1e6)
