"""`maskflow cache`: crop, resize and cache every split as uint8 arrays, so training never
reads a photo.

    maskflow cache --raw-dir resources/masks/raw --annotations results/masks/data/annotations.csv \
        --spec '{"preprocess": {"size": 32, "channels": "rgb", "margin": 0.1, "square": true},
                 "annotations": {"format": "bbox_csv"}, "classes": ["good", "bad", "none"]}' \
        --out-dir results/masks/cache --threads 2

Writes, for split in train/val/test, `{split}_x.npy` (uint8 N x H x W x C), `{split}_y.npy`
(int64 label_index) and `{split}_index.csv` (row_id, photo, box, label in array order), then
`checksums.json` (sha256 of those nine files), as in docs/contracts.md. The annotation format picks the builder (BUILDERS registry):

- photo formats (bbox_csv, voc_xml, image_folder) go through `crop_rows`: each photo is
  decoded once (at a reduced JPEG scale when every box allows it) and all its boxes cut from
  it; photos run in parallel threads and each crop lands in its row's slot of an array
  preallocated on disk, so the output does not depend on the thread count and memory stays
  flat however many photos there are;
- array formats (pixel_csv, npz) register `from_arrays(module)`, whose `load_arrays` gives
  the images; they go through the same resize/channel code (maskflow.data.crop.finish).

`crop_rows` is also how `maskflow predict` crops boxes of new photos: one preprocessing path.

Every file is written through maskflow.io.atomic, so a killed run leaves no file that looks
finished; the temporary files a hard kill (SIGKILL, power loss) leaves behind are removed by
the next run before it starts. Readers check what they read through maskflow.data.integrity.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from maskflow.config import SPLITS
from maskflow.data.crop import Preprocess, crop, finish, min_scale, regions
from maskflow.data.integrity import CHECKSUMS_NAME, INDEX_COLUMNS, cache_names, cache_path, write_checksums
from maskflow.data.photos import open_photo
from maskflow.errors import ConfigError, DataError
from maskflow.io import atomic
from maskflow.options import json_option

log = logging.getLogger("maskflow.data.cache")

BOX_COLUMNS = ["xmin", "ymin", "xmax", "ymax"]
ROWS_NAMED = 5  # rows named in an error message before "and N more"

# A builder fills `out` (uint8 N x H x W x C, preallocated) with the crops of `rows`, in order.
Builder = Callable[[Path, pd.DataFrame, dict, int, np.ndarray], None]


# ---------------------------------------------------------------- photos -> crops


def _describe_rows(rows: pd.DataFrame, positions: np.ndarray) -> str:
    """'rows a.csv:3, a.csv:7' by row_id when the table has one, else by 1-based position."""
    if "row_id" in rows.columns:
        names = [str(v) for v in rows["row_id"].to_numpy()[positions[:ROWS_NAMED]]]
    else:
        names = [str(p + 1) for p in positions[:ROWS_NAMED]]
    more = f" and {len(positions) - ROWS_NAMED} more" if len(positions) > ROWS_NAMED else ""
    return f"annotation row{'s' if len(positions) > 1 else ''} {', '.join(names)}{more}"


def _checked_boxes(rows: pd.DataFrame) -> np.ndarray:
    """N x 4 float boxes; a missing, non-numeric or empty box is an error naming its row."""
    missing = [c for c in ["photo", *BOX_COLUMNS] if c not in rows.columns]
    if missing:
        raise DataError(
            f"rows to crop lack column(s) {', '.join(missing)}; columns present: {', '.join(map(str, rows.columns))}"
        )
    boxes = rows[BOX_COLUMNS].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(boxes).all(axis=1)
    empty = ~bad & ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
    for mask, problem in ((bad, "missing or non-numeric box coordinate"), (empty, "box has zero or negative area")):
        if mask.any():
            raise DataError(f"{_describe_rows(rows, np.flatnonzero(mask))}: {problem}")
    return boxes


def _photo_jobs(rows: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
    """(photo, row positions) per distinct photo, photos in order of first appearance."""
    codes, photos = pd.factorize(rows["photo"].astype(str), sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(photos) + 1))
    for index, photo in enumerate(photos):
        yield photo, order[bounds[index] : bounds[index + 1]]


@contextlib.contextmanager
def _cv2_single_threaded() -> Iterator[None]:
    # Our threads already use the cores, one photo each: OpenCV's own thread pool on top would
    # oversubscribe them. The setting is process-wide, so it is restored afterwards.
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def crop_rows(
    raw_dir: str | Path,
    rows: pd.DataFrame,
    preprocess: Mapping | Preprocess,
    threads: int = 1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Crops of `rows` (columns photo, xmin, ymin, xmax, ymax; photo relative to `raw_dir`), in row
    order: uint8 N x H x W x C. Each photo is decoded once, photos in `threads` parallel threads.

    `out`, when given (e.g. a memory-mapped .npy), is filled instead of a new array.

    A photo is decoded at the smallest scale its smallest box allows, so crops are bit-identical
    to the cached ones when a photo's boxes are cropped together as in the cache; a box cropped
    on its own may get a reduced decode instead, which agrees closely (tests/unit/data/test_crop.py).
    """
    prep = Preprocess.from_spec(preprocess)
    rows = rows.reset_index(drop=True)
    if out is None:
        out = np.empty(prep.shape(len(rows)), dtype=np.uint8)
    elif out.shape != prep.shape(len(rows)) or out.dtype != np.uint8:
        raise ValueError(f"out is {out.dtype} {out.shape}, expected uint8 {prep.shape(len(rows))}")
    boxes = _checked_boxes(rows)
    cut_regions = regions(boxes, prep.margin, prep.square)
    raw_dir = Path(raw_dir)

    def crop_photo(job: tuple[str, np.ndarray]) -> None:
        photo, positions = job
        try:
            image, scale = open_photo(raw_dir / photo, prep.channels, min_scale(cut_regions[positions], prep.size))
        except DataError as error:
            raise DataError(f"{error} (used by {_describe_rows(rows, positions)})") from None
        for position in positions:
            try:
                out[position] = crop(image, cut_regions[position], prep, scale)
            except ValueError as error:
                raise DataError(f"{raw_dir / photo}: {_describe_rows(rows, np.array([position]))}: {error}") from None

    jobs = list(_photo_jobs(rows))
    with _cv2_single_threaded():
        if threads <= 1 or len(jobs) <= 1:
            for job in jobs:
                crop_photo(job)
        else:
            executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="maskflow-crop")
            try:
                # Workers write disjoint slots of `out`; only `threads` decoded photos are alive at once.
                for _ in executor.map(crop_photo, jobs):
                    pass
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
    return out


def build_from_photos(raw_dir: Path, rows: pd.DataFrame, spec: dict, threads: int, out: np.ndarray) -> None:
    """Builder of the photo formats: crop every row's box out of its photo."""
    crop_rows(raw_dir, rows, spec.get("preprocess"), threads=threads, out=out)


def from_arrays(load_arrays: Callable[[Path, dict, pd.DataFrame], np.ndarray] | str) -> Builder:
    """A builder for an array format from its `load_arrays(raw_dir, annotations_spec, rows)`,
    which returns uint8 N x h x w (x C) images in row order; they are resized and converted to
    the configured channels by the same code as photo crops (maskflow.data.crop.finish).

    `load_arrays` may be a module name whose `load_arrays` is imported when first used, so
    importing this module (as `maskflow predict` does) does not import every format."""

    def build(raw_dir: Path, rows: pd.DataFrame, spec: dict, threads: int, out: np.ndarray) -> None:
        load = importlib.import_module(load_arrays).load_arrays if isinstance(load_arrays, str) else load_arrays
        prep = Preprocess.from_spec(spec.get("preprocess"))
        images = load(raw_dir, spec.get("annotations") or {}, rows)
        if len(images) != len(rows):
            raise DataError(f"{raw_dir}: loaded {len(images)} images for {len(rows)} rows")
        with _cv2_single_threaded():
            for position, image in enumerate(images):
                out[position] = finish(image, prep)

    return build


# annotation format -> builder. A new array format is one line: "name": from_arrays("module").
BUILDERS: dict[str, Builder] = {
    "bbox_csv": build_from_photos,
    "voc_xml": build_from_photos,
    "image_folder": build_from_photos,
    "pixel_csv": from_arrays("maskflow.annotations.pixel_csv"),
    "npz": from_arrays("maskflow.annotations.npz"),
}


# ---------------------------------------------------------------- annotations.csv -> cache files


def read_annotations(path: Path, classes: list[str]) -> pd.DataFrame:
    """annotations.csv as strings (written back unchanged to the index), checked against `classes`."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: cannot read annotations ({error})") from None
    missing = [c for c in [*INDEX_COLUMNS, "split"] if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; columns present: {', '.join(frame.columns)}")
    index = pd.to_numeric(frame["label_index"], errors="coerce").to_numpy()
    known = (index >= 0) & (index <= len(classes) - 1) & (index % 1 == 0)  # NaN compares False
    named = np.asarray(classes, dtype=object)[np.where(known, index, 0).astype(int)]
    known &= named == frame["label"].to_numpy()
    bad_label = np.flatnonzero(~known)
    if len(bad_label):
        raise DataError(
            f"{path}: {_describe_rows(frame, bad_label)}: label/label_index do not match the classes {classes}"
        )
    bad_split = np.flatnonzero(~frame["split"].isin(SPLITS).to_numpy())
    if len(bad_split):
        raise DataError(f"{path}: {_describe_rows(frame, bad_split)}: split must be one of {', '.join(SPLITS)}")
    return frame


def _write_split(out_dir: Path, split: str, rows: pd.DataFrame, prep: Preprocess, build: Callable) -> None:
    """{split}_x.npy filled in place through a memory map of its temporary file, then y and index."""
    with atomic.atomic_path(cache_path(out_dir, split, "x")) as tmp:
        if len(rows):
            x = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=prep.shape(len(rows)))
            atomic.preallocate(tmp)  # a full disk: ENOSPC now, not SIGBUS in the middle of the crops
            build(rows, x)
            x.flush()
            del x
        else:  # numpy cannot memory-map zero bytes
            np.save(tmp, np.zeros(prep.shape(0), dtype=np.uint8), allow_pickle=False)
    atomic.save_npy(cache_path(out_dir, split, "y"), rows["label_index"].astype(np.int64).to_numpy())
    atomic.write_csv(cache_path(out_dir, split, "index"), rows[INDEX_COLUMNS])


def remove_leftover_temporaries(out_dir: Path) -> None:
    """Delete temporary files of this stage's outputs left by a killed run (SIGKILL, power loss).

    maskflow.io.atomic names them `.{name}.tmp-*` beside their target; a killed job cannot remove
    its own, and a half-written train_x can be as large as the finished one. Only this stage
    writes these names, so whatever matches is garbage."""
    out_dir = Path(out_dir)
    names = [*cache_names(), CHECKSUMS_NAME]
    leftovers = [p for name in names for p in out_dir.glob(f".{name[:100]}.tmp-*") if p.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    if leftovers:
        log.warning(
            "removed %d temporary file(s) left by an interrupted run: %s",
            len(leftovers),
            ", ".join(p.name for p in leftovers),
        )


def build_cache(raw_dir: Path, annotations: Path, spec: dict, out_dir: Path, threads: int = 1) -> dict[str, int]:
    """Write the cache files of every split; return the number of crops per split."""
    fmt = (spec.get("annotations") or {}).get("format", "bbox_csv")
    if fmt not in BUILDERS:
        raise ConfigError(f"annotations.format: {fmt!r} cannot be cached; registered formats: {', '.join(BUILDERS)}")
    builder = BUILDERS[fmt]
    prep = Preprocess.from_spec(spec.get("preprocess"))
    frame = read_annotations(Path(annotations), list(spec["classes"]))
    remove_leftover_temporaries(Path(out_dir))
    counts: dict[str, int] = {}
    for split in SPLITS:
        rows = frame[frame["split"] == split].reset_index(drop=True)
        start = time.perf_counter()
        _write_split(Path(out_dir), split, rows, prep, lambda r, x: builder(Path(raw_dir), r, spec, threads, x))
        seconds = time.perf_counter() - start
        counts[split] = len(rows)
        log.info(
            "%s: %d crops from %d %s in %.2f s (%.0f crops/s, %d thread%s)",
            split,
            len(rows),
            rows["photo"].nunique(),
            "photos" if builder is build_from_photos else "files",
            seconds,
            len(rows) / seconds if seconds > 0 else 0.0,
            threads,
            "s" if threads > 1 else "",
        )
    # Last, so its presence means every file above is complete; the stats stage checks the
    # files against it before sealing them (maskflow.data.integrity).
    write_checksums(out_dir)
    log.info("cached %s crops of %dx%dx%d into %s", counts, prep.size, prep.size, prep.depth, out_dir)
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw-dir", required=True, type=Path, help="the data set's raw folder (photos relative to it)")
    parser.add_argument("--annotations", required=True, type=Path, help="annotations.csv with a split column")
    parser.add_argument("--spec", required=True, help="JSON: {preprocess, annotations, classes} of the data set")
    parser.add_argument("--out-dir", required=True, type=Path, help="folder for {split}_x.npy, _y.npy, _index.csv")
    parser.add_argument("--threads", type=int, default=1, help="photos decoded in parallel")


def run(args: argparse.Namespace) -> None:
    spec = json_option(args.spec, "--spec")
    build_cache(args.raw_dir, args.annotations, spec, args.out_dir, max(1, args.threads))
