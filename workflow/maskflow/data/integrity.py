"""Integrity checks of the cached arrays the data stage hands the later stages.

A file that is truncated, half-updated, or copied in from another run must be refused with a
message naming it and saying how to rebuild it, never silently used. Readers of the cache go
through `load_split`. (Checkpoints are checked by maskflow.models.checkpoint.check_checkpoint.)

    from maskflow.data import integrity
    seal = integrity.read_seal("results/masks/stats/normalization.json")
    split = integrity.load_split("results/masks/cache", "val", classes=["good", "bad", "none"], seal=seal)
    split.x, split.y, split.index     # uint8 N x H x W x C, int64 N, DataFrame (docs/contracts.md)

What is checked:

- a .npy file holds exactly the bytes its header promises (a truncated copy or a disk-full
  write is named as such, instead of numpy's "cannot reshape array");
- x is uint8 N x H x W x C, y is integer N, the index has the contract's columns and N rows,
  and y agrees with the index's label_index row by row (files of two runs mixed together);
- the seal: the cache stage records the sha256 of every file it wrote in its own
  `checksums.json`; the stats stage refuses a cache that no longer matches it (a file swapped
  in with a newer date makes Snakemake rerun the statistics, which must not seal the stranger)
  and copies the checksums into normalization.json (`cache_sha256`), which the later stages
  check; a cache file that no longer matches was changed after the data stage (an `rsync -a`
  or `cp -p` from another run keeps old modification times, so Snakemake does not notice).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from maskflow.config import SPLITS
from maskflow.errors import DataError
from maskflow.io import atomic
from maskflow.io.hashing import sha256_file
from maskflow.layout import CACHE_PARTS, CHECKSUMS_NAME, cache_names  # the names the rules declare

# {split}_index.csv columns, in order (docs/contracts.md); maskflow.data.cache writes them.
INDEX_COLUMNS = ["row_id", "photo", "xmin", "ymin", "xmax", "ymax", "label", "label_index"]
SEAL_KEY = "cache_sha256"  # key of the seal in normalization.json
# `--until class_stats`: the cache and its statistics alone. The next run then retrains nothing
# when the rebuilt cache is byte-identical: train reads only checksums.json and normalization.json,
# whose checksums Snakemake recorded and compares before it believes a newer date. A plain
# `--forcerun cache` would plan every job after the cache in the same run, whatever it rebuilt.
REBUILD_CACHE = (
    "rebuild it: snakemake --forcerun cache --until class_stats (the cache and its statistics alone; "
    "the next run retrains nothing when the rebuilt cache is byte-identical)"
)


def cache_path(cache_dir: str | os.PathLike, split: str, part: str) -> Path:
    return Path(cache_dir) / f"{split}_{CACHE_PARTS[part]}"


# ---------------------------------------------------------------- .npy files

# .npy format version -> header reader (np.save writes 1.0; 2.0 only for huge structured headers)
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def npy_header(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy header, after checking the file holds exactly that much data."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found; {REBUILD_CACHE}")
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version not in HEADER_READERS:
                raise ValueError(f".npy format version {version} (maskflow writes 1.0)")
            shape, _fortran, dtype = HEADER_READERS[version](handle)
            offset = handle.tell()
    except (ValueError, OSError, SyntaxError) as error:
        # An empty file, a file cut inside its header, or not a .npy at all.
        raise DataError(f"{path}: not a readable .npy file ({size} bytes; {error}); {REBUILD_CACHE}") from None
    if dtype.hasobject:
        raise DataError(f"{path}: holds Python objects, not numbers; {REBUILD_CACHE}")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    held = size - offset
    if held != expected:
        what = "truncated" if held < expected else f"{held - expected} bytes longer than its array"
        raise DataError(
            f"{path}: {what}: the header describes {dtype} {' x '.join(map(str, shape)) or 'scalar'} "
            f"({expected} bytes of data) but the file holds {held}; {REBUILD_CACHE}"
        )
    return tuple(shape), dtype


def load_array(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """A checked .npy array (memory-mapped read-only when `mmap`)."""
    shape, _ = npy_header(path)
    if mmap and int(np.prod(shape)) == 0:
        mmap = False  # numpy cannot memory-map zero bytes
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


# ---------------------------------------------------------------- the seal


class Seal(NamedTuple):
    """sha256 of each cache file, as recorded by the stats stage, and where it was read."""

    checksums: dict[str, str]
    source: str


def seal_cache(cache_dir: str | os.PathLike, splits=SPLITS) -> dict[str, str]:
    """{file name: sha256} of every cache file: what the stats stage writes as `cache_sha256`."""
    return {name: sha256_file(Path(cache_dir) / name) for name in cache_names(splits)}


def write_checksums(cache_dir: str | os.PathLike) -> dict[str, str]:
    """Record the sha256 of every cache file in the cache's checksums.json (the cache stage's last step)."""
    checksums = seal_cache(cache_dir)
    atomic.write_json(Path(cache_dir) / CHECKSUMS_NAME, checksums)
    return checksums


def verified_checksums(cache_dir: str | os.PathLike) -> dict[str, str]:
    """The cache stage's checksums, after checking every cache file still matches them.

    What the stats stage seals: a file replaced after the cache stage (even with a newer
    date, which makes Snakemake rerun the statistics) is refused here, not sealed."""
    path = Path(cache_dir) / CHECKSUMS_NAME
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found (the cache stage writes it last); {REBUILD_CACHE}") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read the cache checksums ({error}); {REBUILD_CACHE}") from None
    missing = [name for name in cache_names() if not isinstance(recorded, dict) or name not in recorded]
    if missing:
        raise DataError(f"{path}: no checksum for {', '.join(missing)}; {REBUILD_CACHE}")
    seal = Seal({name: recorded[name] for name in cache_names()}, str(path))
    for name in cache_names():
        verify_seal(Path(cache_dir) / name, seal)
    return seal.checksums


def read_seal(normalization_path: str | os.PathLike | None) -> Seal | None:
    """The seal recorded in normalization.json; None when there is none (written before seals)."""
    if normalization_path is None:
        return None
    path = Path(normalization_path)
    try:
        checksums = json.loads(path.read_text(encoding="utf-8")).get(SEAL_KEY)
    except (OSError, ValueError, AttributeError) as error:
        raise DataError(f"{path}: cannot read the cache checksums ({error})") from None
    return Seal(dict(checksums), str(path)) if checksums else None


def verify_seal(path: str | os.PathLike, seal: Seal | None) -> None:
    """Refuse a cache file whose sha256 differs from the one recorded in the seal."""
    path = Path(path)
    expected = seal.checksums.get(path.name) if seal else None
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(
            f"{path}: sha256 {actual[:12]}... differs from {expected[:12]}... recorded in {seal.source} when the cache "
            f"was built: the file was replaced (copied from another run?) or damaged since; {REBUILD_CACHE}"
        )


# ---------------------------------------------------------------- one split


@dataclass(frozen=True)
class CachedSplit:
    x: np.ndarray  # uint8 N x H x W x C
    y: np.ndarray  # int64 N
    index: dict[str, np.ndarray] | None  # column -> N strings, INDEX_COLUMNS among them (None when not asked for)


def _check_x(path: Path, x: np.ndarray) -> None:
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] not in (1, 3):
        raise DataError(
            f"{path}: expected uint8 N x H x W x C crops (C = 1 or 3), found {x.dtype} "
            f"{' x '.join(map(str, x.shape))}; {REBUILD_CACHE}"
        )


def _check_y(path: Path, y: np.ndarray, n: int, x_name: str, classes: list[str] | None) -> np.ndarray:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: expected integer labels, one per crop, found {y.dtype} {y.shape}; {REBUILD_CACHE}")
    if len(y) != n:
        raise DataError(
            f"{path}: {len(y)} labels but {x_name} holds {n} crops: the two files come from different runs; {REBUILD_CACHE}"
        )
    if classes is not None:
        outside = np.flatnonzero((y < 0) | (y >= len(classes)))
        if len(outside):
            raise DataError(
                f"{path}: label {y[outside[0]]} at position {outside[0]} is not an index of the "
                f"{len(classes)} classes {classes}"
            )
    return y.astype(np.int64, copy=False)


def read_index(
    path: Path, y: np.ndarray, classes: list[str] | None, y_name: str = "the labels"
) -> dict[str, np.ndarray]:
    """{split}_index.csv as column -> array of strings, checked against the labels of its split
    row by row. Read with the csv module: an evaluate job would otherwise import pandas (0.45 s)
    for this file alone; `pandas.DataFrame(index)` gives a table where one is wanted."""
    import csv

    if not path.is_file():
        raise DataError(f"{path}: not found; {REBUILD_CACHE}")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = [row for row in reader if row]  # blank lines carry no row
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read the cache index ({error}); {REBUILD_CACHE}") from None
    if not header:
        raise DataError(f"{path}: empty file (even an empty split has a header line); {REBUILD_CACHE}")
    missing = [c for c in INDEX_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; {REBUILD_CACHE}")
    ragged = next((n for n, row in enumerate(rows, start=2) if len(row) != len(header)), None)
    if ragged is not None:
        raise DataError(f"{path}: line {ragged} does not have the header's {len(header)} fields; {REBUILD_CACHE}")
    if len(rows) != len(y):
        raise DataError(
            f"{path}: {len(rows)} rows for {len(y)} cached crops: the files come from different runs; {REBUILD_CACHE}"
        )
    cells = np.array(rows, dtype=object).reshape(len(rows), len(header))
    index = {name: cells[:, k] for k, name in enumerate(header)}
    # A label_index that is not a whole number (isdecimal: what int() accepts) never matches a label.
    given = np.array(
        [int(v) if v.strip().lstrip("-").isdecimal() else -1 for v in index["label_index"]], dtype=np.int64
    )
    differ = np.flatnonzero(given != y)
    if classes is not None and not len(differ):
        differ = np.flatnonzero(index["label"] != np.asarray(classes, dtype=object)[y])
    if len(differ):
        row = differ[0]
        raise DataError(
            f"{path}: line {row + 2} (row_id {index['row_id'][row]}) says {index['label'][row]!r} "
            f"(label_index {index['label_index'][row]}) but {y_name} has label {y[row]} at position {row}: "
            f"the two files come from different runs; {REBUILD_CACHE}"
        )
    return index


def load_split(
    cache_dir: str | os.PathLike,
    split: str,
    *,
    classes: list[str] | None = None,
    seal: Seal | None = None,
    index: bool = True,
    mmap: bool = False,
) -> CachedSplit:
    """One split's cached crops, labels and index, checked against each other (and the seal).

    `classes`: check labels are indices of them (and the index's label names). `index=False`
    skips the index file (training needs only x and y). `mmap`: x memory-mapped read-only."""
    x_path, y_path, index_path = (cache_path(cache_dir, split, part) for part in CACHE_PARTS)
    x = load_array(x_path, mmap=mmap)
    _check_x(x_path, x)
    y = _check_y(y_path, load_array(y_path), len(x), x_path.name, classes)
    table = read_index(index_path, y, classes, y_path.name) if index else None
    # Last: files that agree with each other may still all come from another run.
    for path in (x_path, y_path, index_path) if index else (x_path, y_path):
        verify_seal(path, seal)
    return CachedSplit(x, y, table)
