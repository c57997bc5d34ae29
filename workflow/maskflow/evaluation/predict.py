"""`maskflow predict`: classify the boxes of new photos with a trained checkpoint.

    maskflow predict --checkpoint results/masks/models/cnn_baseline/checkpoint.pt \
        --annotations new.csv --images photos/ --out preds.csv [--overlays preds_overlays/]

`new.csv` has a `filename` column (the photo, relative to --images) and, for boxes, `xmin,
ymin, xmax, ymax` in pixels (xmax/ymax exclusive); without box columns each photo is one
crop. Other names are mapped with `--columns '{"filename": "name", "xmin": "x1", ...}'`
(the config's `columns` mapping works as is); a `label` column, when present, is copied and
scored. Crops are cut by `maskflow.data.cache.crop_rows`, the code that built the training cache,
and classified by `maskflow.inference.predict_proba`, the code that evaluated it: one
preprocessing and inference path, so a photo gives here exactly what the workflow gave it.

The crop settings (size, channels, margin, square) are taken from the checkpoint, which
records its dataset's `preprocess` in `spec`; checkpoints from elsewhere can be given them by
`--config` (the config the model was trained with) or `--preprocess '{"size": 32, ...}'`; size
and channels must match the checkpoint.

`preds.csv`: row (1-based, as in new.csv), photo, box, [label], the three decisions of
`predictions_{split}.csv` (predicted, predicted_prior, predicted_above_prior: argmax,
prior-corrected, above-prior; maskflow.evaluation.metrics.DECISION_RULES), confidence,
p_<class>...; the training prior the last two use is `train_prior` of the model's metrics.json
(beside the checkpoint, or --metrics); with --overlays, one PNG per photo with every box in its predicted class colour.

A row that cannot be predicted (its photo missing or undecodable, a coordinate that is no
number, a box inverted, empty or outside its photo) does not stop the others: it is skipped with
the reason `maskflow validate` gives it in quality.json and listed in `preds_skipped.csv` beside
`preds.csv` (row, line as in an editor, photo, reason, detail; header only when none), and one
line on stderr says how many. The exit status is 2 only with `--strict` and a row skipped, or
when no row could be predicted. Fractional coordinates are rounded and boxes partly outside the
photo clipped, as validate repairs them.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.errors import ConfigError, DataError
from maskflow.evaluation.metrics import DECISION_RULES
from maskflow.io import atomic
from maskflow.options import json_option

log = logging.getLogger(__name__)

BOX = ["xmin", "ymin", "xmax", "ymax"]
# preds.csv's decision columns, named as in predictions_{split}.csv (evaluation.evaluate.prediction_frame)
DECISION_COLUMNS = {"predicted": "argmax", "predicted_prior": "prior_corrected", "predicted_above_prior": "above_prior"}


def counted(n: int, word: str, plural: str | None = None) -> str:
    """'1 box', '2 boxes'."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="a model's checkpoint.pt")
    parser.add_argument(
        "--annotations", required=True, help="CSV of photos (filename) and boxes (xmin, ymin, xmax, ymax)"
    )
    parser.add_argument("--images", required=True, help="folder the filenames are relative to")
    parser.add_argument("--out", required=True, help="CSV of predictions to write")
    parser.add_argument("--columns", default="{}", help="JSON: maskflow name -> column name in the CSV")
    parser.add_argument("--config", help="config the model was trained with (for the crop settings)")
    parser.add_argument(
        "--metrics", help="the model's metrics.json, for its training class prior (default: beside the checkpoint)"
    )
    parser.add_argument("--preprocess", help="JSON crop settings: size, channels, margin, square")
    parser.add_argument("--overlays", help="folder for one PNG per photo with the predicted boxes")
    parser.add_argument("--threads", type=int, default=1, help="photo decoding threads and torch threads")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument(
        "--strict", action="store_true", help="exit 2 when any row is skipped (default: predict the others)"
    )


# --------------------------------------------------------------------------- inputs


SKIPPED_COLUMNS = ["row", "line", "photo", "reason", "detail"]
# The checks of `maskflow validate` that apply to a box to predict (labels are optional here and
# duplicates harmless): a row they would drop is skipped with the same reason and detail.
BOX_CHECKS = ("check_photos", "check_coordinates", "choose_box_order", "check_boxes")


def skipped_path(out: str | Path) -> Path:
    """Where the skipped rows of `--out preds.csv` go: preds_skipped.csv beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}_skipped.csv")


def read_requests(path: str | Path, columns: dict[str, str], images: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """new.csv as (rows to predict: row, photo, xmin, ymin, xmax, ymax, [label], found; skipped rows).

    Every row goes through validate's photo and box checks (maskflow.annotations.checks): a missing
    or undecodable photo, a coordinate that is no number, an inverted, empty or outside box is
    skipped with the reason quality.json would give it; fractional coordinates are rounded and
    boxes partly outside clipped, as validate repairs them. Without box columns a row's box is its
    whole photo. `found` is the photo's name on disk (NFC/NFD forms tried), `photo` as written."""
    from maskflow.annotations import checks
    from maskflow.annotations.quality import REASONS, REPAIRED, QualityLog
    from maskflow.annotations.records import make_rows

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: annotations not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    names = {key: columns.get(key, key) for key in ["filename", *BOX, "label"]}
    if names["filename"] not in frame.columns and "photo" in frame.columns and "filename" not in columns:
        names["filename"] = "photo"  # annotations.csv written by the workflow names it `photo`
    if names["filename"] not in frame.columns:
        raise DataError(
            f"{path}: no column {names['filename']!r} naming the photos (columns: {', '.join(frame.columns)}); map it with --columns"
        )
    present = [key for key in BOX if names[key] in frame.columns]
    if present and len(present) < 4:
        missing = [names[k] for k in BOX if k not in present]
        raise DataError(
            f"{path}: box columns {', '.join(missing)} missing (have {', '.join(names[k] for k in present)})"
        )
    photos = frame[names["filename"]].str.strip()
    rows = make_rows(
        {
            "source_file": path.name,
            "source_row": range(2, len(frame) + 2),  # the line in an editor: header = line 1
            "photo": photos.where(photos != "", None),  # an empty cell names no photo
            **({f"raw_{key}": frame[names[key]] for key in BOX} if present else {}),
        },
        len(frame),
    )
    quality = QualityLog()
    context = checks.Context(
        raw_dir=images, labels=None, box_order="xyxy", quality=quality, folder=f"the --images folder {images}"
    )
    for check in BOX_CHECKS if present else BOX_CHECKS[:1]:
        if rows.empty:
            break
        rows = getattr(checks, check)(rows, context)
    if not present or rows.empty:  # one crop per photo: the whole photo (or no row left)
        rows = rows.assign(xmin=0, ymin=0, xmax=rows.get("photo_width", 0), ymax=rows.get("photo_height", 0))
    kept = pd.DataFrame({"row": rows["source_row"] - 1, "photo": photos[rows.index]})
    kept[BOX] = rows[list(BOX)].astype(np.int64)
    if names["label"] in frame.columns:
        kept["label"] = frame[names["label"]].str.strip()[rows.index]
    kept["found"] = rows["photo"]
    issues = sorted(quality.issues, key=lambda issue: issue.row)
    repaired = [i for i in issues if REASONS[i.reason][0] == REPAIRED]
    if repaired:
        counts = pd.Series([i.reason for i in repaired]).value_counts()
        log.info(
            "%d boxes repaired as validate repairs them: %s",
            len(repaired),
            ", ".join(f"{r} {n}" for r, n in counts.items()),
        )
    skipped = pd.DataFrame(
        [(i.row - 1, i.row, photos[i.row - 2], i.reason, i.detail) for i in issues if REASONS[i.reason][0] != REPAIRED],
        columns=SKIPPED_COLUMNS,
    )
    return kept.reset_index(drop=True), skipped


def _preprocess_from_config(path: str, ckpt: dict) -> dict:
    import yaml

    from maskflow.config import resolve_dataset

    config = yaml.safe_load(Path(path).read_text())
    dataset = (ckpt.get("spec") or {}).get("dataset")
    datasets = config.get("datasets") or {}
    if dataset not in datasets:
        raise ConfigError(
            f"{path}: the checkpoint's data set {dataset!r} is not in this config ({', '.join(datasets)})"
        )
    return resolve_dataset(dataset, datasets[dataset])["preprocess"]


def preprocess_of(ckpt: dict, args: argparse.Namespace) -> dict:
    """The crop settings the model was trained with, checked against the checkpoint's image."""
    recorded = ckpt.get("preprocess") or (ckpt.get("spec") or {}).get("preprocess")
    if recorded:
        prep = dict(recorded)
    elif args.preprocess:
        prep = json_option(args.preprocess, "--preprocess")
    elif args.config:
        prep = _preprocess_from_config(args.config, ckpt)
    else:
        raise ConfigError(
            f"{args.checkpoint} does not record its crop settings (margin, square): pass --config with the config "
            "the model was trained with, or --preprocess"
        )
    image = ckpt["image"]
    channels = {"rgb": 3, "gray": 1}.get(prep.get("channels", "rgb"))
    if prep.get("size", 32) != image["size"] or channels != image["channels"]:
        raise ConfigError(
            f"crop settings {prep} give {prep.get('size')}px x {channels} channels, but {args.checkpoint} was trained on "
            f"{image['size']}px x {image['channels']} channels: wrong config?"
        )
    return prep


# --------------------------------------------------------------------------- outputs


def training_prior(args: argparse.Namespace, classes: list[str]) -> np.ndarray:
    """The class prior the model was trained on: `train_prior` of its metrics.json, which
    `maskflow evaluate` writes beside the checkpoint."""
    path = Path(args.metrics) if args.metrics else Path(args.checkpoint).with_name("metrics.json")
    if not path.is_file():
        raise DataError(
            f"{path}: not found; predict reads the training class prior there (for predicted_prior and "
            "predicted_above_prior): give the model's metrics.json with --metrics"
        )
    try:
        prior = json.loads(path.read_text(encoding="utf-8"))["train_prior"]
        return np.array([float(prior[name]) for name in classes])
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: no train_prior for the classes {classes} ({error!r}); is it this model's?") from None


def prediction_table(rows: pd.DataFrame, proba: np.ndarray, classes: list[str], prior: np.ndarray) -> pd.DataFrame:
    """The request rows plus the decisions of predictions_{split}.csv, confidence and p_<class>."""
    table = rows.copy()
    names = np.asarray(classes, dtype=object)
    for column, rule in DECISION_COLUMNS.items():
        table[column] = names[DECISION_RULES[rule](proba, prior)] if len(proba) else []
    table["confidence"] = proba.max(axis=1) if len(proba) else []
    for k, name in enumerate(classes):
        table[f"p_{name}"] = proba[:, k]
    return table


def _overlay_name(photo: str, used: set[str]) -> str:
    stem = re.sub(r"[^\w.-]+", "_", Path(photo).stem)[:80] or "photo"
    name, n = f"{stem}.png", 1
    while name in used:  # two photos with one stem in different folders
        n += 1
        name = f"{stem}_{n}.png"
    used.add(name)
    return name


def write_overlays(folder: str | Path, images: Path, table: pd.DataFrame, classes: list[str]) -> None:
    """One PNG per photo: every box in the colour of its predicted class (drawn as the overlays figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from maskflow.figures.common import class_colors
    from maskflow.figures.galleries import draw_photo

    colors = dict(zip(classes, class_colors(len(classes))))
    used: set[str] = set()
    for photo, group in table.groupby("photo", sort=False):
        figure, ax = plt.subplots(figsize=(8, 6.5))
        draw_photo(ax, images, photo, group.to_dict("records"), colors)
        figure.legend(handles=[Patch(color=colors[c], label=c) for c in classes], loc="lower center", ncol=len(classes))
        atomic.save_figure(Path(folder) / _overlay_name(photo, used), figure)


def run(args: argparse.Namespace) -> None:
    import torch

    from maskflow.data.cache import crop_rows
    from maskflow.inference import predict_proba
    from maskflow.models.checkpoint import load_model

    torch.set_num_threads(max(1, args.threads))
    columns = json_option(args.columns, "--columns")
    images = Path(args.images)
    model, ckpt = load_model(args.checkpoint, "cpu")
    classes = list(ckpt["classes"])
    prep = preprocess_of(ckpt, args)
    prior = training_prior(args, classes)
    rows, skipped = read_requests(args.annotations, columns, images)
    report_skipped(args, rows, skipped)
    on_disk = rows.pop("found")  # the photo's name on disk; preds.csv keeps the name as written
    crops = crop_rows(images, rows.assign(photo=on_disk), prep, threads=args.threads)
    proba = predict_proba(model, ckpt, crops, "cpu", batch_size=args.batch_size)
    table = prediction_table(rows, proba, classes, prior)
    atomic.write_csv(args.out, table)
    log.info(
        "%s in %s -> %s", counted(len(table), "box", "boxes"), counted(table["photo"].nunique(), "photo"), args.out
    )
    if "label" in table.columns and len(table):
        log.info("accuracy against the given labels: %.4f", float((table["label"] == table["predicted"]).mean()))
    if args.overlays:
        write_overlays(args.overlays, images, table, classes)
        log.info("overlays -> %s", args.overlays)


def report_skipped(args: argparse.Namespace, rows: pd.DataFrame, skipped: pd.DataFrame) -> None:
    """Write the skipped rows beside --out (header only when none), say how many in one line; stop
    (exit 2) with --strict when any was skipped, or when none is left to predict."""
    where = skipped_path(args.out)
    atomic.write_csv(where, skipped)
    if skipped.empty:
        return
    counts = ", ".join(f"{reason} {n}" for reason, n in skipped["reason"].value_counts(sort=False).items())
    first = skipped.iloc[0]
    summary = (
        f"{len(skipped)} of {len(skipped) + len(rows)} rows skipped ({counts}; first: row {first['row']}, "
        f"line {first['line']}: {first['reason']}: {first['detail']}); every one listed in {where}"
    )
    if rows.empty:
        raise DataError(f"{args.annotations}: no row could be predicted: {summary}")
    if args.strict:
        raise DataError(f"{args.annotations}: {summary} (--strict)")
    # Printed, not logged: the one line a user must see, whatever the logging setup.
    print(f"maskflow predict: warning: {summary}", file=sys.stderr)
