"""`maskflow validate`: annotation files -> clean rows (validated.csv) + quality report.

    maskflow validate --raw-dir resources/masks/raw \
        --spec '{"annotations": {"format": "bbox_csv", "files": {"all": "boxes.csv"}}, "classes": ["good", "bad"]}' \
        --out results/masks/data/validated.csv --quality results/masks/data/quality.json

Reads the files with the format's reader (see `READERS`), runs the shared checks (checks.py),
and writes one row per kept box in the columns of docs/contracts.md. Rows that can be dropped
or repaired are, each listed in quality.json with its reason; the file and row named there are
what a person sees: the line number (header = line 1, first data row = line 2), or the object
index for VOC. A summary goes to stderr. A missing column, an empty file or no usable row at
all stops with a DataError naming the file(s) and the reasons.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from maskflow.annotations import read_annotations
from maskflow.annotations.checks import BOX, BOX_ORDERS, Context, run_checks
from maskflow.annotations.labels import LabelMatcher
from maskflow.annotations.quality import QualityLog, summary
from maskflow.config import DATASET_DEFAULTS, deep_merge
from maskflow.errors import ConfigError, DataError
from maskflow.io import atomic
from maskflow.options import json_option

log = logging.getLogger(__name__)

COLUMNS = (
    "row_id", "source_file", "source_row", "photo", "array_index", "photo_width", "photo_height",
    "xmin", "ymin", "xmax", "ymax", "label", "label_index", "given_split",
)  # fmt: skip
BOX_ORDER_CHOICES = (*BOX_ORDERS, "auto")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw-dir", required=True, type=Path, help="the dataset's raw folder")
    parser.add_argument("--spec", required=True, help='JSON {"annotations": {...}, "classes": [...]}')
    parser.add_argument("--out", required=True, type=Path, help="validated.csv to write")
    parser.add_argument("--quality", required=True, type=Path, help="quality.json to write")
    parser.add_argument(
        "--dataset", help="name in quality.json (default: the raw folder's parent, resources/<name>/raw)"
    )


def parse_spec(text: str) -> tuple[dict, list[str]]:
    """(annotations settings with defaults filled, classes) from the rule's JSON."""
    spec = json_option(text, "--spec")
    if not isinstance(spec.get("annotations"), dict) or not spec.get("classes"):
        raise ConfigError('--spec must be {"annotations": {...}, "classes": [...]}')
    settings = deep_merge(DATASET_DEFAULTS["annotations"], spec["annotations"])
    if settings["box_order"] not in BOX_ORDER_CHOICES:
        raise ConfigError(f"annotations.box_order: {settings['box_order']!r}; allowed: {', '.join(BOX_ORDER_CHOICES)}")
    return settings, [str(c) for c in spec["classes"]]


def validate(raw_dir: str | Path, settings: dict, classes: list[str], dataset: str = "") -> tuple[pd.DataFrame, dict]:
    """(validated rows in COLUMNS, quality report) for the annotations under raw_dir."""
    raw_dir = Path(raw_dir)
    read = read_annotations(raw_dir, settings, classes)
    quality = QualityLog()
    for issue in read.issues:
        quality.add(issue.file, issue.row, issue.reason, issue.detail)
    ctx = Context(
        raw_dir=raw_dir,
        labels=LabelMatcher(classes, settings.get("rename"), settings.get("label_case", "normalize")),
        box_order=settings["box_order"],
        quality=quality,
    )
    rows = run_checks(read.rows, ctx)
    kept = set(zip(rows["source_file"], rows["source_row"].astype(int)))
    report = quality.report(dataset, read.rows_read, kept, read.files, **ctx.notes)
    if rows.empty:
        raise DataError(f"{', '.join(read.files)}: no usable rows.\n{summary(report)}")
    return output_table(rows), report


def output_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The checked rows in validated.csv's columns and types (integers stay integers; NA empty)."""
    table = rows.reset_index(drop=True)
    table = table.assign(**{name: pd.NA for name in BOX if name not in table})  # array formats have none
    table["source_row"] = table["source_row"].astype(int)
    table["row_id"] = table["source_file"] + ":" + table["source_row"].astype(str)
    for column in ("array_index", "photo_width", "photo_height", "xmin", "ymin", "xmax", "ymax", "label_index"):
        table[column] = pd.array(pd.to_numeric(table[column]).round(), dtype="Int64")
    return table[list(COLUMNS)]


def run(args: argparse.Namespace) -> None:
    settings, classes = parse_spec(args.spec)
    dataset = args.dataset or Path(args.raw_dir).resolve().parent.name
    log.info("validating %s annotations in %s", settings["format"], args.raw_dir)
    table, report = validate(args.raw_dir, settings, classes, dataset)
    log.info("%s", summary(report))
    atomic.write_csv(args.out, table)
    atomic.write_json(args.quality, report)
