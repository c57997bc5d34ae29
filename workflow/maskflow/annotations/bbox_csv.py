"""Reader for box tables: one CSV row per box, the photo named in a column.

    annotations:
      format: bbox_csv
      files: {train: train.csv, test: test.csv}     # or {all: boxes.csv}, or boxes.csv
      images: images                                # photo folder relative to raw/
      columns: {filename: name, label: classname, xmin: x1, ymin: x2, xmax: y1, ymax: y2}
      box_order: auto                               # xyxy | x1x2y1y2 | auto

`columns` maps maskflow's names to the table's (unmapped names are looked up as they are):
filename, label, xmin, ymin, xmax, ymax are required; width, height (the size the table
claims, checked against the photo) and split (train/val/test per row, see `split_values`) are
used when present. Extra columns are ignored. A file under a `train`/`val`/`test` key gives
that split to all its rows; under `all` (or a single string) the split column, if any, does.
Row numbers are line numbers in the file: header = line 1, first data row = line 2.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import pandas as pd

from maskflow.annotations.records import RAW_BOX, ReadResult, make_rows
from maskflow.annotations.tables import annotation_files, map_columns, read_csv_table, split_values

REQUIRED = ("filename", "label", "xmin", "ymin", "xmax", "ymax")
OPTIONAL = ("width", "height", "split")


def photo_path(images: str, filename) -> str | None:
    """The photo relative to raw/: `images`/filename, normalised ('./a.jpg' -> 'a.jpg')."""
    if pd.isna(filename) or not str(filename).strip():
        return None
    return posixpath.normpath(posixpath.join(images, str(filename)))


def read_table(raw_dir: Path, relative: str, split: str | None, spec: dict) -> pd.DataFrame:
    table = read_csv_table(raw_dir / relative, relative)
    column = map_columns(table, relative, spec.get("columns") or {}, REQUIRED, OPTIONAL)
    images = spec.get("images") or ""
    if split is not None:
        given = split
    elif "split" in column:
        given = split_values(table[column["split"]], table["source_row"], relative, spec.get("split_values"))
    else:
        given = ""
    return make_rows(
        {
            "source_file": relative,
            "source_row": table["source_row"],
            "photo": [photo_path(images, name) for name in table[column["filename"]]],
            "label": table[column["label"]],
            **{raw: table[column[name]] for raw, name in zip(RAW_BOX, ("xmin", "ymin", "xmax", "ymax"))},
            "table_width": table[column["width"]] if "width" in column else None,
            "table_height": table[column["height"]] if "height" in column else None,
            "given_split": given,
        },
        len(table),
    )


def read(raw_dir: Path, spec: dict, classes: list[str] | None = None) -> ReadResult:
    files = annotation_files(raw_dir, spec)
    frames = [read_table(raw_dir, relative, split, spec) for relative, split in files]
    rows = pd.concat(frames, ignore_index=True)
    return ReadResult(rows=rows, rows_read=len(rows), files=[relative for relative, _ in files])
