"""What a reader hands to validation: one row per box (or per array image), not yet checked.

A reader turns one annotation format into a DataFrame with READ_COLUMNS and reports the rows
it could not even read (a broken XML file, a pixel list of the wrong length). Everything that
is the same for every format (photos exist and decode, labels match the classes, boxes fit
the photo, duplicates) is checked afterwards by `maskflow.annotations.checks`.

READ_COLUMNS:
    source_file   annotation file, relative to raw/
    source_row    line number in that file (header = line 1) or, for VOC, the object index (1-based)
    photo         photo (or array file) relative to raw/, as the annotation names it; NaN if none
    array_index   index inside an array file (array formats), else NA: such rows have no box
                  and their photo is not probed; their size comes from table_width/height
    label         the label as written (NaN if empty)
    raw_xmin, raw_ymin, raw_xmax, raw_ymax
                  the box cells as written, in the order of the columns mapped to xmin, ymin,
                  xmax, ymax; `box_order` says how to read them (see checks.BOX_ORDERS)
    table_width, table_height   the size the annotation claims (NaN if none)
    given_split   train/val/test when the data says, else ''
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from maskflow.annotations.quality import Issue

RAW_BOX = ("raw_xmin", "raw_ymin", "raw_xmax", "raw_ymax")
READ_COLUMNS = (
    "source_file", "source_row", "photo", "array_index", "label", *RAW_BOX,
    "table_width", "table_height", "given_split",
)  # fmt: skip


@dataclass
class ReadResult:
    rows: pd.DataFrame
    rows_read: int  # rows in the files, including those the reader dropped itself
    issues: list[Issue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # annotation files read, in order


def make_rows(columns: dict, length: int) -> pd.DataFrame:
    """A READ_COLUMNS frame from the columns a reader has: sequences are taken by position,
    scalars are repeated, columns not given are empty."""
    unknown = set(columns) - set(READ_COLUMNS)
    if unknown:
        raise KeyError(f"not reader columns: {sorted(unknown)}")
    frame = pd.DataFrame(index=range(length))
    for name in READ_COLUMNS:
        value = columns.get(name, "" if name == "given_split" else None)
        is_sequence = isinstance(value, (pd.Series, pd.api.extensions.ExtensionArray, list, range, tuple)) or (
            hasattr(value, "ndim") and value.ndim == 1
        )
        frame[name] = list(value) if is_sequence else value
    frame["array_index"] = pd.array(frame["array_index"], dtype="Int64")
    frame["source_row"] = frame["source_row"].astype("int64")
    return frame
