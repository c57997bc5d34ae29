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

`preds.csv`: row (1-based, as in new.csv), photo, box, [label], predicted, confidence,
p_<class>...; with --overlays, one PNG per photo with every box in its predicted class colour.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.errors import ConfigError, DataError
from maskflow.io import atomic

log = logging.getLogger(__name__)

BOX = ["xmin", "ymin", "xmax", "ymax"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="a model's checkpoint.pt")
    parser.add_argument(
        "--annotations", required=True, help="CSV of photos (filename) and boxes (xmin, ymin, xmax, ymax)"
    )
    parser.add_argument("--images", required=True, help="folder the filenames are relative to")
    parser.add_argument("--out", required=True, help="CSV of predictions to write")
    parser.add_argument("--columns", default="{}", help="JSON: maskflow name -> column name in the CSV")
    parser.add_argument("--config", help="config the model was trained with (for the crop settings)")
    parser.add_argument("--preprocess", help="JSON crop settings: size, channels, margin, square")
    parser.add_argument("--overlays", help="folder for one PNG per photo with the predicted boxes")
    parser.add_argument("--threads", type=int, default=1, help="photo decoding threads and torch threads")
    parser.add_argument("--batch-size", type=int, default=512)


# --------------------------------------------------------------------------- inputs


def read_requests(path: str | Path, columns: dict[str, str], images: Path) -> pd.DataFrame:
    """new.csv as photo, box, [label] columns (boxes = the whole photo when it has none)."""
    from maskflow.data.photos import probe_photo

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
    rows = pd.DataFrame({"row": np.arange(1, len(frame) + 1), "photo": frame[names["filename"]].str.strip()})
    present = [key for key in BOX if names[key] in frame.columns]
    if present and len(present) < 4:
        missing = [names[k] for k in BOX if k not in present]
        raise DataError(
            f"{path}: box columns {', '.join(missing)} missing (have {', '.join(names[k] for k in present)})"
        )
    for key in BOX:
        if present:
            values = pd.to_numeric(frame[names[key]], errors="coerce")
            bad = values.isna() | (values.round() != values)
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
                raise DataError(
                    f"{path}: row {row}: {names[key]} = {frame[names[key]].iloc[row - 1]!r} is not a whole pixel coordinate"
                )
            rows[key] = values.astype(np.int64)
    if not present:  # one crop per photo: the whole photo
        sizes = [probe_photo(images / photo, verify=False) for photo in rows["photo"]]
        rows["xmin"], rows["ymin"] = 0, 0
        rows["xmax"], rows["ymax"] = [w for w, _ in sizes], [h for _, h in sizes]
    if names["label"] in frame.columns:
        rows["label"] = frame[names["label"]].str.strip()
    return rows


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
        prep = json.loads(args.preprocess)
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


def prediction_table(rows: pd.DataFrame, proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    table = rows.copy()
    table["predicted"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] if len(proba) else []
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
        draw_photo(ax, images, photo, group, colors)
        figure.legend(handles=[Patch(color=colors[c], label=c) for c in classes], loc="lower center", ncol=len(classes))
        atomic.save_figure(Path(folder) / _overlay_name(photo, used), figure)


def run(args: argparse.Namespace) -> None:
    import torch

    from maskflow.data.cache import crop_rows
    from maskflow.inference import predict_proba
    from maskflow.models.checkpoint import load_model

    torch.set_num_threads(max(1, args.threads))
    try:
        columns = json.loads(args.columns)
    except json.JSONDecodeError as error:
        raise ConfigError(f"--columns is not valid JSON ({error})") from None
    images = Path(args.images)
    model, ckpt = load_model(args.checkpoint, "cpu")
    classes = list(ckpt["classes"])
    prep = preprocess_of(ckpt, args)
    rows = read_requests(args.annotations, columns, images)
    crops = crop_rows(images, rows, prep, threads=args.threads)
    proba = predict_proba(model, ckpt, crops, "cpu", batch_size=args.batch_size)
    table = prediction_table(rows, proba, classes)
    atomic.write_csv(args.out, table)
    log.info("%d boxes in %d photos -> %s", len(table), table["photo"].nunique(), args.out)
    if "label" in table.columns and len(table):
        log.info("accuracy against the given labels: %.4f", float((table["label"] == table["predicted"]).mean()))
    if args.overlays:
        write_overlays(args.overlays, images, table, classes)
        log.info("overlays -> %s", args.overlays)
