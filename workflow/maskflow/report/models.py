"""The report's section of one model: settings, metrics tables and its figures."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from maskflow.errors import ConfigError
from maskflow.figures.families import FAMILIES, parse_name
from maskflow.io.files import read_json
from maskflow.models.settings import listed_settings
from maskflow.report.html import anchor, esc, fmt, image, settings_list, table

log = logging.getLogger(__name__)

# The captions of `snakemake --report` (workflow/report/figure_{family}.rst) are the report's too:
# one text per figure family, with the rule's wildcards filled in here.
CAPTIONS_DIR = Path(__file__).resolve().parents[2] / "report"
WILDCARD = re.compile(r"\{\{\s*snakemake\.wildcards\.(\w+)\s*\}\}")

METRIC_COLUMNS = {"n": "n", "accuracy": "accuracy", "balanced_accuracy": "balanced acc.", "macro_f1": "macro F1"}


def metrics_table(metrics: dict) -> str:
    rows = []
    for split, entry in metrics["splits"].items():
        row = {"split": split, **{k: entry.get(k) for k in METRIC_COLUMNS}}
        for key, value in (entry.get("prior_corrected") or {}).items():
            row[f"prior_{key}"] = value
        for key, value in (entry.get("above_prior") or {}).items():
            row[f"above_{key}"] = value
        rows.append(row)
    columns = {
        "split": "split",
        **METRIC_COLUMNS,
        "prior_accuracy": "accuracy (prior-corr.)",
        "prior_balanced_accuracy": "bal. acc. (prior-corr.)",
        "prior_macro_f1": "macro F1 (prior-corr.)",
        "above_accuracy": "accuracy (above prior)",
        "above_balanced_accuracy": "bal. acc. (above prior)",
        "above_macro_f1": "macro F1 (above prior)",
    }
    return table(rows, columns, ["split"])


def per_class_table(metrics: dict) -> str:
    test = metrics["splits"].get("test") or {}
    train = metrics["splits"].get("train") or {}
    rows = []
    for name in metrics["classes"]:
        entry = (test.get("per_class") or {}).get(name, {})
        rows.append(
            {
                "class": name,
                **{k: entry.get(k) for k in ("precision", "recall", "f1", "support", "accuracy")},
                "train_accuracy": ((train.get("per_class") or {}).get(name) or {}).get("accuracy"),
            }
        )
    columns = {
        "class": "class",
        "precision": "precision",
        "recall": "recall",
        "f1": "F1",
        "support": "support",
        "accuracy": "test accuracy",
        "train_accuracy": "train accuracy",
    }
    return "<h4>Per class (test split)</h4>" + table(rows, columns, ["class"])


def architecture_block(path: str | None) -> str:
    """The per-layer table (architecture.txt of the train stage), collapsed; '' for an ensemble."""
    if not path:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        log.warning("%s: per-layer table not shown (%s)", path, error)
        return ""
    return f"<details><summary>architecture (per-layer table)</summary><pre>{esc(text)}</pre></details>"


def model_section(dataset: str, model: dict, detailed: bool) -> str:
    metrics = read_json(model["metrics"], "metrics.json")
    spec = metrics.get("spec") or {}
    training = metrics.get("training") or {}
    name = metrics["model"]
    parts = [
        f'<h3 id="{anchor("model", dataset, name)}">{esc(name)} <span class=muted>({esc(metrics.get("kind"))})</span></h3>'
    ]
    description = model.get("description") or spec.get("description")
    if description:
        parts.append(f"<p>{esc(description)}</p>")
    facts = {
        k: training.get(k)
        for k in ("param_count", "best_epoch", "epoch", "train_seconds")
        if training.get(k) is not None
    }
    if facts:
        parts.append(
            "<p>" + ", ".join(f"{esc(k.replace('_', ' '))}: <b>{esc(fmt(v, 2))}</b>" for k, v in facts.items()) + "</p>"
        )
    parts.append(
        f"<details><summary>settings</summary>{settings_list(listed_settings({**spec, 'kind': metrics.get('kind')}))}</details>"
    )
    parts.append(architecture_block(model.get("architecture")))
    parts.append(metrics_table(metrics))
    parts.append(per_class_table(metrics))
    if not detailed:
        parts.append(
            "<p class=muted>Figures of this model are left out of the report (report.max_models_detailed); they are under results/.</p>"
        )
        return "".join(parts)
    figures = model.get("figures") or {}
    for figure in sorted(figures, key=lambda f: (_family_rank(f), f)):
        family, split = _family_of(figure)
        caption = figure_caption(family, name, split)
        parts.append(image(figures[figure], f"{name} {figure}", caption))
    return "".join(parts)


def _family_of(figure: str) -> tuple[str, str | None]:
    try:
        return parse_name(figure)
    except ConfigError:  # not a figure maskflow draws: shown last, without a caption
        return figure, None


def figure_caption(family: str, model: str, split: str | None) -> str:
    """The caption of one figure: its family's .rst caption with model and split filled in."""
    path = CAPTIONS_DIR / f"figure_{family}.rst"
    if not path.is_file():
        return ""
    values = {"model": model, "split": split or ""}
    return WILDCARD.sub(lambda m: values.get(m.group(1), m.group(0)), path.read_text(encoding="utf-8")).strip()


def _family_rank(figure: str) -> tuple[int, int]:
    """Figures in maskflow.figures.families.FAMILIES order; within a family, splits as train, val, test."""
    family, split = _family_of(figure)
    order = list(FAMILIES)
    return (order.index(family) if family in order else len(order)), ("train", "val", "test", None).index(split)
