"""The checks every annotation row goes through, whatever its format.

`CHECKS` runs in order; each takes the surviving rows and returns those that pass, recording
every dropped or repaired row in the quality log:

1. photos       the photo exists (exact name, else its NFC/NFD Unicode form: macOS writes
                decomposed names) and decodes; each photo is probed once, however many boxes
                it has (missing_photo, corrupt_photo)
2. sizes        the table's width/height agree with the photo; the photo wins (size_mismatch)
3. labels       rename + case handling, see labels.py (unknown_label, label_normalized)
4. coordinates  four finite numbers, fractions rounded half up (nan_coordinate, float_coordinate)
5. box order    which cell is which coordinate (`box_order`; `auto` picks per file the reading
                under which more boxes fit inside their photos, xyxy on a tie)
6. boxes        xmin > xmax or ymin > ymax is dropped, not swapped (inverted_box); zero width
                or height (zero_area); entirely outside (box_outside); partly outside is
                clipped to the photo (box_clipped). xmax/ymax are exclusive pixel bounds.
7. duplicates   same photo, box and label as an earlier row: the first is kept (duplicate_row)

Rows of array formats (array_index set) have no box and no photo to probe: only the label and
duplicate checks apply to them.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.annotations.labels import LabelMatcher
from maskflow.annotations.quality import QualityLog
from maskflow.annotations.records import RAW_BOX
from maskflow.data.photos import probe_photo
from maskflow.errors import DataError

log = logging.getLogger(__name__)

BOX = ("xmin", "ymin", "xmax", "ymax")
SLOTS = tuple(name.removeprefix("raw_") for name in RAW_BOX)  # the names the columns were mapped to
# box_order -> for xmin, ymin, xmax, ymax: which of the four mapped cells (in the order the
# mapping names xmin, ymin, xmax, ymax) holds it. Kaggle's `name,x1,x2,y1,y2` mapped in table
# order reads as x1x2y1y2 if its header is right, as xyxy if (as often) it is not.
BOX_ORDERS: dict[str, tuple[int, int, int, int]] = {"xyxy": (0, 1, 2, 3), "x1x2y1y2": (0, 2, 1, 3)}


@dataclass
class Context:
    raw_dir: Path
    labels: LabelMatcher
    box_order: str
    quality: QualityLog
    notes: dict = field(default_factory=dict)
    # how a missing photo's detail names raw_dir: predict's photos are in its --images folder
    folder: str = "the raw folder"


def _boxed(frame: pd.DataFrame) -> pd.Series:
    return frame["array_index"].isna()


def boxes_only(check):
    """Run a box check on the rows that have a box; rows of array formats pass untouched."""

    @functools.wraps(check)
    def checked(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
        boxed = _boxed(frame)
        if boxed.all():
            return check(frame, ctx)
        if not boxed.any():
            return frame
        return pd.concat([check(frame[boxed], ctx), frame[~boxed]]).sort_index()

    return checked


def _drop(frame: pd.DataFrame, bad: pd.Series, reason: str, details, ctx: Context) -> pd.DataFrame:
    ctx.quality.add_rows(reason, frame[bad], details)
    return frame[~bad]


def find_photo(raw_dir: Path, relative: str) -> str | None:
    """The photo's path relative to raw_dir as it exists on disk, trying Unicode forms; else None."""
    for candidate in dict.fromkeys([relative] + [unicodedata.normalize(form, relative) for form in ("NFC", "NFD")]):
        if (raw_dir / candidate).is_file():
            return candidate
    return None


def _probe(raw_dir: Path, relative: str, folder: str) -> tuple[str, int, int] | tuple[None, str, str]:
    """(path on disk, width, height), or (None, reason, detail)."""
    found = find_photo(raw_dir, relative)
    if found is None:
        if (raw_dir / relative).is_dir():  # named like a photo (`a_directory.jpg`), but a folder
            return None, "missing_photo", f"{relative}: is a folder, not a photo file"
        return None, "missing_photo", f"{relative}: no such file in {folder}"
    try:
        width, height = probe_photo(raw_dir / found)
    except DataError as error:
        return None, "corrupt_photo", str(error).replace(str(raw_dir / found), found, 1)
    return found, width, height


def check_photos(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    boxed = _boxed(frame)
    probed = {photo: _probe(ctx.raw_dir, photo, ctx.folder) for photo in pd.unique(frame.loc[boxed, "photo"].dropna())}
    unnamed = (None, "missing_photo", "the row names no photo")
    outcome = pd.Series([probed.get(p, unnamed) if b else None for p, b in zip(frame.photo, boxed)], index=frame.index)
    failed = outcome.map(lambda o: o is not None and o[0] is None)
    for file, row, (_, reason, detail) in zip(frame.source_file[failed], frame.source_row[failed], outcome[failed]):
        ctx.quality.add(file, row, reason, detail)
    frame, outcome = frame[~failed], outcome[~failed]
    if probed:
        log.info("%d photos probed, %d unusable", len(probed), sum(o[0] is None for o in probed.values()))
    # Photo rows take the probed path and size; array rows keep the size their reader gave.
    probed_rows = outcome[outcome.notna()]
    found = pd.DataFrame(
        probed_rows.tolist(), index=probed_rows.index, columns=["photo", "photo_width", "photo_height"]
    )
    claimed = pd.DataFrame(
        {
            "photo": frame.photo,
            "photo_width": pd.to_numeric(frame.table_width, errors="coerce"),
            "photo_height": pd.to_numeric(frame.table_height, errors="coerce"),
        }
    )
    merged = found.combine_first(claimed)
    return frame.assign(**{column: merged[column] for column in merged})


@boxes_only
def check_sizes(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    claimed_w = pd.to_numeric(frame["table_width"], errors="coerce")
    claimed_h = pd.to_numeric(frame["table_height"], errors="coerce")
    differs = (claimed_w.notna() & (claimed_w != frame["photo_width"])) | (
        claimed_h.notna() & (claimed_h != frame["photo_height"])
    )
    rows = frame[differs]
    details = [
        f"the table says {_num(tw)}x{_num(th)}, the photo is {w}x{h}"
        + (" (swapped: EXIF orientation?)" if (tw, th) == (h, w) else "")
        for tw, th, w, h in zip(claimed_w[differs], claimed_h[differs], rows["photo_width"], rows["photo_height"])
    ]
    ctx.quality.add_rows("size_mismatch", rows, details)
    return frame


def _num(value) -> str:
    return "?" if pd.isna(value) else f"{value:g}"


def check_labels(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    written = frame["label"].fillna("")  # NaN is no dict key (every NaN hashes apart)
    matched = {raw: ctx.labels.match(raw) for raw in pd.unique(written)}
    outcome = written.map(matched)
    classes = ctx.labels.classes
    frame = frame.assign(
        label=outcome.map(lambda o: o[0]),
        label_index=outcome.map(lambda o: classes.index(o[0]) if o[0] is not None else -1),
    )
    normalised = outcome.map(lambda o: o[1] == "label_normalized")
    ctx.quality.add_rows("label_normalized", frame[normalised], outcome[normalised].map(lambda o: o[2]))
    unknown = outcome.map(lambda o: o[1] == "unknown_label")
    return _drop(frame, unknown, "unknown_label", outcome[unknown].map(lambda o: o[2]), ctx)


@boxes_only
def check_coordinates(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    raw = frame[list(RAW_BOX)]
    values = raw.apply(lambda column: pd.to_numeric(column, errors="coerce")).astype(float)
    bad_cells = values.isna() | ~np.isfinite(values.fillna(0))
    bad = bad_cells.any(axis=1)
    details = [
        ", ".join(
            f"{slot} is empty" if pd.isna(cell) else f"{slot} {cell!r} is not a finite number"
            for slot, cell, is_bad in zip(SLOTS, raw.loc[i], bad_cells.loc[i])
            if is_bad
        )
        for i in frame.index[bad]
    ]
    frame = _drop(frame, bad, "nan_coordinate", details, ctx)
    values = values.loc[frame.index]
    rounded = np.floor(values + 0.5)  # half up: numpy's round() sends 0.5 and 1.5 both to even
    fractional = (rounded != values).any(axis=1)
    details = [
        ", ".join(f"{slot} {v:g} -> {r:g}" for slot, v, r in zip(SLOTS, values.loc[i], rounded.loc[i]) if v != r)
        for i in frame.index[fractional]
    ]
    ctx.quality.add_rows("float_coordinate", frame[fractional], details)
    return frame.assign(**{f"cell{k}": rounded[name] for k, name in enumerate(RAW_BOX)})


def _read_box(frame: pd.DataFrame, order: str) -> pd.DataFrame:
    cells = BOX_ORDERS[order]
    return pd.DataFrame({name: frame[f"cell{cell}"] for name, cell in zip(BOX, cells)}, index=frame.index)


def _fits(box: pd.DataFrame, frame: pd.DataFrame) -> int:
    return int(
        ((box.xmin >= 0) & (box.xmin < box.xmax) & (box.xmax <= frame.photo_width)
         & (box.ymin >= 0) & (box.ymin < box.ymax) & (box.ymax <= frame.photo_height)).sum()
    )  # fmt: skip


@boxes_only
def choose_box_order(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    if ctx.box_order != "auto":
        boxes = _read_box(frame, ctx.box_order)
    else:
        boxes = pd.concat(
            [_read_box(rows, _auto_order(file, rows, ctx)) for file, rows in frame.groupby("source_file")]
        )
    return frame.drop(columns=[f"cell{k}" for k in range(4)]).assign(**boxes)


def _auto_order(file: str, rows: pd.DataFrame, ctx: Context) -> str:
    """The box order under which more of a table's boxes fit their photos (xyxy on a tie); noted in
    quality.json under `box_order` and logged, as a warning on a tie."""
    fits = {candidate: _fits(_read_box(rows, candidate), rows) for candidate in BOX_ORDERS}
    order = max(BOX_ORDERS, key=lambda candidate: fits[candidate])  # max() keeps the first on a tie
    ctx.notes.setdefault("box_order", {})[file] = {"chosen": order, "boxes_inside_photo": fits, "rows": len(rows)}
    tie = len(set(fits.values())) == 1
    (log.warning if tie else log.info)(
        "%s: box_order auto chose %s (%s of %d boxes inside their photo)%s", file, order,
        ", ".join(f"{k}: {v}" for k, v in fits.items()), len(rows), "; a tie: set box_order" if tie else "",
    )  # fmt: skip
    return order


def _describe(rows: pd.DataFrame, problems: str | list[str]) -> list[str]:
    """'box (x0, y0, x1, y1) in a WxH photo: problem' for each row (one problem, or one per row)."""
    problems = [problems] * len(rows) if isinstance(problems, str) else problems
    return [
        f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) in a {w}x{h} photo: {problem}"
        for (x0, y0, x1, y1, w, h), problem in zip(
            rows[[*BOX, "photo_width", "photo_height"]].itertuples(index=False), problems
        )
    ]


@boxes_only
def check_boxes(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    # Each test sees only the rows that passed the one before, so a row gets one reason.
    tests = {
        "inverted_box": (lambda f: (f.xmin > f.xmax) | (f.ymin > f.ymax), "xmin > xmax or ymin > ymax"),
        "zero_area": (lambda f: (f.xmin == f.xmax) | (f.ymin == f.ymax), "zero width or height"),
        "box_outside": (
            lambda f: (f.xmax <= 0) | (f.ymax <= 0) | (f.xmin >= f.photo_width) | (f.ymin >= f.photo_height),
            "entirely outside",
        ),
    }
    for reason, (test, problem) in tests.items():
        bad = test(frame)
        frame = _drop(frame, bad, reason, _describe(frame[bad], problem), ctx)
    clipped = pd.DataFrame(
        {
            "xmin": frame.xmin.clip(lower=0),
            "ymin": frame.ymin.clip(lower=0),
            "xmax": np.minimum(frame.xmax, frame.photo_width),
            "ymax": np.minimum(frame.ymax, frame.photo_height),
        }
    )
    changed = (clipped != frame[list(BOX)]).any(axis=1)
    problems = [f"partly outside, clipped to ({a:g}, {b:g}, {c:g}, {d:g})" for a, b, c, d in clipped[changed].values]
    ctx.quality.add_rows("box_clipped", frame[changed], _describe(frame[changed], problems))
    return frame.assign(**clipped)


def check_duplicates(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    key = [column for column in ("photo", "array_index", *BOX, "label") if column in frame]  # arrays: no box
    duplicate = frame.duplicated(subset=key, keep="first")
    grouped = frame.groupby(key, dropna=False, sort=False)
    first_file = grouped["source_file"].transform("first")
    first_row = grouped["source_row"].transform("first")
    details = [f"same photo, box and label as {f} row {r}" for f, r in zip(first_file[duplicate], first_row[duplicate])]
    return _drop(frame, duplicate, "duplicate_row", details, ctx)


CHECKS = (check_photos, check_sizes, check_labels, check_coordinates, choose_box_order, check_boxes, check_duplicates)


def run_checks(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    for check in CHECKS:
        if frame.empty:  # nothing left to check; the caller reports why
            break
        frame = check(frame, ctx)
    return frame
