"""Reader for pixel tables in the FER2013 layout: one CSV row per image, its pixels in one cell.

    annotations:
      format: pixel_csv
      files: fer2013.csv                    # or {train: a.csv, test: b.csv}, or {all: x.csv}
      columns: {label: emotion, pixels: pixels, split: Usage}        # these are the defaults
      split_values: {Training: train, PublicTest: val, PrivateTest: test}   # the default
      image_size: [48, 48]                  # height, width (default 48 x 48)

`pixels` holds height x width gray values 0..255, row-major, separated by spaces. `label` is
a class name or a class index into the config's `classes` (FER2013's `emotion` 0..6 ->
Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral). A file under a train/val/test key gives
its split to every row; otherwise the split column does, through `split_values`.

The pixel column is parsed vectorised, never row by row in Python: a block of rows is joined
into one byte buffer and numpy finds the digits, the tokens and their values at once
(`parse_pixels`). Rows that cannot be images are reported, with their line number (header =
line 1), and dropped: `non_numeric_pixels` (anything but integers), `wrong_pixel_count`,
`pixel_out_of_range` (a value outside 0..255, or written with more than three digits). Line
numbers assume no line breaks inside quoted cells, as in FER2013.

`load_arrays` (the cache stage) parses the same file again and returns the kept rows' images,
uint8 N x H x W x 1, for the cache's one resize/channel path.

    python -m maskflow.annotations.pixel_csv fer2013.csv    # parse speed and a row count
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from maskflow.annotations.quality import Issue
from maskflow.annotations.records import ReadResult, make_rows
from maskflow.annotations.tables import annotation_files, map_columns, read_csv_table, split_values
from maskflow.errors import DataError

DEFAULT_COLUMNS = {"label": "emotion", "pixels": "pixels", "split": "Usage"}
FER_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
DEFAULT_SIZE = (48, 48)

# Rows are parsed in blocks of about this many bytes: big enough for numpy to be fast, small
# enough that the per-byte index arrays (8 bytes per input byte) stay a few hundred MB at most.
BLOCK_BYTES = 8 << 20

# Problem codes of parse_pixels, in the order they are tested (the first one found is reported).
OK, NON_NUMERIC, WRONG_COUNT, OUT_OF_RANGE = range(4)
REASONS = {NON_NUMERIC: "non_numeric_pixels", WRONG_COUNT: "wrong_pixel_count", OUT_OF_RANGE: "pixel_out_of_range"}

_DIGIT0, _MINUS, _NEWLINE = ord("0"), ord("-"), ord("\n")
# byte -> is it a separator between values / something no integer contains (a lookup table:
# one pass over the buffer instead of one comparison per character class)
_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[[ord(" "), ord("\t"), ord("\r")]] = True
_STRAY = np.ones(256, dtype=bool)
_STRAY[[*range(_DIGIT0, _DIGIT0 + 10), ord(" "), ord("\t"), ord("\r"), _NEWLINE]] = False
MAX_DIGITS = 3  # 0..255 needs at most three digits; a longer value is out of range


class Parsed(NamedTuple):
    pixels: np.ndarray  # uint8 n x count; rows with a problem are zeros
    problem: np.ndarray  # int8 per row: OK or the first problem code
    found: np.ndarray  # number of values per row


def _parse_block(texts: list[str], count: int) -> Parsed:
    n = len(texts)
    buffer = np.frombuffer(("\n".join(texts) + "\n").encode("utf-8"), dtype=np.uint8)
    line_end = np.flatnonzero(buffer == _NEWLINE)
    if len(line_end) != n:  # a line break inside a quoted cell: it separates values too
        return _parse_block([t.replace("\n", " ") for t in texts], count)

    def rows_of(positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(line_end, positions)  # line r ends at line_end[r]

    digit = (buffer - _DIGIT0) < 10  # uint8 arithmetic wraps: bytes below '0' become large
    # Values are found by their last digit; each is read from at most MAX_DIGITS digits
    # before it, so no pass needs a running sum over the whole buffer.
    ends = np.flatnonzero(digit & ~np.concatenate((digit[1:], [False])))
    found = np.diff(np.searchsorted(ends, line_end), prepend=0)  # values per line
    token_row = np.repeat(np.arange(n), found)
    values = (buffer[ends] - _DIGIT0).astype(np.int16)
    run = np.ones(len(ends), dtype=bool)  # the value still has a digit `back` places before its end
    for back in range(1, MAX_DIGITS):
        place = buffer[ends - back] - _DIGIT0  # ends - back may be -1: the final newline
        run &= place < 10
        place[~run] = 0
        values += place.astype(np.int16) * np.int16(10**back)
    too_long = run & digit[ends - MAX_DIGITS]

    stray = np.flatnonzero(_STRAY[buffer])
    # '-' right before a digit at the start of a value is a negative number: out of range.
    minus = stray[buffer[stray] == _MINUS]
    negative = minus[
        digit[minus + 1] & ((minus == 0) | _SEPARATOR[buffer[minus - 1]] | (buffer[minus - 1] == _NEWLINE))
    ]
    stray = np.setdiff1d(stray, negative, assume_unique=True)

    problem = np.full(n, OK, dtype=np.int8)
    problem[token_row[(values > 255) | too_long]] = OUT_OF_RANGE
    problem[rows_of(negative)] = OUT_OF_RANGE
    problem[found != count] = WRONG_COUNT  # later assignments win: they are the first reported
    problem[rows_of(stray)] = NON_NUMERIC
    pixels = np.zeros((n, count), dtype=np.uint8)
    good = problem == OK
    pixels[good] = values[good[token_row]].reshape(-1, count)
    return Parsed(pixels, problem, found)


def parse_pixels(texts, count: int) -> Parsed:
    """Parse space-separated pixel lists (one string per image) into uint8 n x count, vectorised.

    Non-strings (NaN for an empty cell) count as empty lists. Work goes in blocks of about
    BLOCK_BYTES so memory stays bounded for files of any size.
    """
    texts = ["" if not isinstance(t, str) else t for t in texts]
    if not texts:
        return Parsed(np.zeros((0, count), np.uint8), np.zeros(0, np.int8), np.zeros(0, np.int64))
    per_block = max(1, BLOCK_BYTES // max(1, len(texts[0]) + 1))
    parts = [_parse_block(texts[i : i + per_block], count) for i in range(0, len(texts), per_block)]
    return Parsed(*(np.concatenate(arrays) for arrays in zip(*parts)))


# A sentence per problem, for the quality report; only bad rows get here, so plain Python is fine.
def _first(text: str, bad) -> str:
    return next(((i, t) for i, t in enumerate(text.split(), 1) if bad(t)), (0, ""))


def _non_integer(token: str) -> bool:
    return not token.removeprefix("-").isdigit()


def _outside(token: str) -> bool:
    return not _non_integer(token) and (len(token) > MAX_DIGITS or not 0 <= int(token) <= 255)


DETAILS = {
    NON_NUMERIC: lambda text, found, count: "value {} ({!r}) is not an integer".format(*_first(text, _non_integer)),
    WRONG_COUNT: lambda text, found, count: f"{found} values, expected {count}",
    OUT_OF_RANGE: lambda text, found, count: "value {} ({}) is outside 0..255".format(*_first(text, _outside)),
}


def image_size(spec: dict) -> tuple[int, int]:
    height, width = spec.get("image_size") or DEFAULT_SIZE
    return int(height), int(width)


def _table(raw_dir: Path, relative: str, spec: dict) -> tuple[pd.DataFrame, dict[str, str]]:
    table = read_csv_table(raw_dir / relative, relative)
    # The split column is optional: FER2013's `Usage` is used when present, and a split
    # column the config names must exist (map_columns checks the names it is given).
    mapping = {k: v for k, v in DEFAULT_COLUMNS.items() if k != "split"} | (spec.get("columns") or {})
    column = map_columns(table, relative, mapping, ("label", "pixels"), ("split",))
    if "split" not in column and DEFAULT_COLUMNS["split"] in table.columns:
        column["split"] = DEFAULT_COLUMNS["split"]
    return table, column


def class_names(labels: pd.Series, classes: list[str] | None) -> pd.Series:
    """Labels as written, except whole numbers 0..K-1 that are not class names themselves,
    which become classes[i]: FER2013 writes `emotion` as an index."""
    if not classes:
        return labels
    index = pd.to_numeric(labels, errors="coerce")
    by_index = index.notna() & (index % 1 == 0) & index.between(0, len(classes) - 1) & ~labels.isin(classes)
    named = labels.copy()
    named[by_index] = [classes[int(i)] for i in index[by_index]]
    return named


def read_file(raw_dir: Path, relative: str, split: str | None, spec: dict, classes: list[str] | None):
    """(rows, issues) of one pixel table."""
    table, column = _table(raw_dir, relative, spec)
    height, width = image_size(spec)
    parsed = parse_pixels(table[column["pixels"]].tolist(), height * width)
    texts = table[column["pixels"]]
    issues = [
        Issue(
            relative,
            int(table["source_row"].iat[i]),
            REASONS[code],
            DETAILS[code](str(texts.iat[i]), parsed.found[i], height * width),
        )
        for i, code in zip(np.flatnonzero(parsed.problem), parsed.problem[parsed.problem != OK])
    ]
    keep = parsed.problem == OK
    table = table[keep]
    if split is not None:
        given = split
    elif "split" in column:
        given = split_values(
            table[column["split"]], table["source_row"], relative, {**FER_SPLITS, **(spec.get("split_values") or {})}
        )
    else:
        given = ""
    rows = make_rows(
        {
            "source_file": relative,
            "source_row": table["source_row"],
            "photo": relative,
            # the row's position in the table as read_csv_table returns it (blank lines
            # skipped): load_arrays reads the file the same way and finds the image by it
            "array_index": np.flatnonzero(keep),
            "label": class_names(table[column["label"]], classes),
            "table_width": width,
            "table_height": height,
            "given_split": given,
        },
        len(table),
    )
    return rows, issues


def read(raw_dir: Path, spec: dict, classes: list[str] | None = None) -> ReadResult:
    """Rows of every pixel table named in `files`, and the rows that could not be images."""
    files = annotation_files(raw_dir, spec)
    frames, issues = [], []
    for relative, split in files:
        rows, bad = read_file(raw_dir, relative, split, spec, classes)
        frames.append(rows)
        issues += bad
    rows = pd.concat(frames, ignore_index=True)
    return ReadResult(rows=rows, rows_read=len(rows) + len(issues), issues=issues, files=[f for f, _ in files])


def load_arrays(raw_dir: Path, spec: dict, rows: pd.DataFrame) -> np.ndarray:
    """uint8 N x H x W x 1 images of `rows` (by photo = table file, array_index = data row)."""
    height, width = image_size(spec)
    out = np.zeros((len(rows), height, width, 1), dtype=np.uint8)
    index = pd.to_numeric(rows["array_index"], errors="coerce").to_numpy()
    for relative in pd.unique(rows["photo"]):
        table, column = _table(Path(raw_dir), relative, spec)
        mine = np.flatnonzero(rows["photo"].to_numpy() == relative)
        wanted = index[mine]
        if np.isnan(wanted).any() or (wanted < 0).any() or (wanted >= len(table)).any():
            raise DataError(
                f"{relative}: the annotations name rows the file does not have (was it changed after validate?)"
            )
        texts = table[column["pixels"]].to_numpy()[wanted.astype(np.int64)]
        parsed = parse_pixels(texts.tolist(), height * width)
        if (parsed.problem != OK).any():
            raise DataError(f"{relative}: a validated row no longer parses (was the file changed after validate?)")
        out[mine] = parsed.pixels.reshape(-1, height, width, 1)
    return out


def _benchmark(path: str) -> None:
    table = read_csv_table(Path(path), path)
    started = time.perf_counter()
    parsed = parse_pixels(table["pixels"].tolist(), 48 * 48)
    seconds = time.perf_counter() - started
    print(
        f"{len(table)} rows parsed in {seconds:.2f} s ({len(table) / seconds:,.0f} rows/s), {int((parsed.problem != OK).sum())} bad"
    )


if __name__ == "__main__":
    _benchmark(sys.argv[1])
