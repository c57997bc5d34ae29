"""Reader for image arrays in `.npz` files (numpy.savez): one image and one label per index.

    annotations:
      format: npz
      files: {train: train.npz, test: test.npz}   # or {all: digits.npz}, or digits.npz
      keys: {image: image, label: label}          # the array names (these are the defaults)

One file may hold every split under its own array names (MNIST's mnist.npz: x_train, y_train,
x_test, y_test): name the file under each split and give the keys per split,

      files: {train: mnist.npz, test: mnist.npz}
      keys: {train: {image: x_train, label: y_train}, test: {image: x_test, label: y_test}}

Such rows name their arrays in `photo` and `source_file` (`mnist.npz[x_train]`), so that a
train image and a test image with the same index are different images everywhere downstream
(row ids, duplicates, grouping by photo).

`image` is N x H x W (gray) or N x H x W x C with C = 1 or 3 (channels last). Its dtype:
- uint8 is used as it is; other integer types must hold 0..255; bool becomes 0 / 255;
- float: a file in which most images lie entirely within 0..1 is taken as 0..1 and scaled
  by 255, otherwise as 0..255; values are rounded to the nearest integer. The scale is decided
  per file by that majority, so neither a stray 1.7 in a 0..1 file nor a dark image in a
  0..255 file changes how the other images are read.
Images with a NaN or infinite value (`non_numeric_pixels`) or a value outside the range
(`pixel_out_of_range`) are reported with their index and dropped.

`label` (length N) holds class indices into the config's `classes` or class names. A file under
a train/val/test key gives its split to all its rows; under `all` the split stage decides.
Rows are numbered 1..N in the quality report and in `row_id` (`digits.npz:1` is index 0);
`array_index` is the 0-based index.

`load_arrays` (the cache stage) returns the kept images, uint8 N x H x W x C, in row order,
converted exactly as `read` checked them.

    python -m maskflow.annotations.npz digits.npz      # shapes, dtypes and problems of a file
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.annotations.pixel_csv import NON_NUMERIC, OK, OUT_OF_RANGE, REASONS, class_names
from maskflow.annotations.quality import Issue
from maskflow.annotations.records import ReadResult, make_rows
from maskflow.annotations.tables import annotation_files
from maskflow.errors import ConfigError, DataError

DEFAULT_KEYS = {"image": "image", "label": "label"}
CHANNELS = (1, 3)
SPLIT_KEYS = ("all", "train", "val", "test")
# `mnist.npz[x_train]`: a file and the image array inside it (per-split keys)
_ARRAY_REF = re.compile(r"^(?P<file>.+)\[(?P<key>[^\[\]]+)\]$")


def per_split(spec: dict) -> bool:
    """Whether `keys` names arrays per split ({train: {image, label}, ...})."""
    return any(key in SPLIT_KEYS for key in spec.get("keys") or {})


def keys_for(spec: dict, split: str | None) -> dict:
    """{image, label} array names of the file given under `split` (None: the `all` file)."""
    keys = spec.get("keys") or {}
    if not per_split(spec):
        return {**DEFAULT_KEYS, **keys}
    mixed = sorted(set(keys) - set(SPLIT_KEYS))
    if mixed:
        raise ConfigError(
            f"annotations.keys: give the array names either per split ({{train: {{image: ..., label: ...}}}}) "
            f"or once ({{image: ..., label: ...}}), not both (found {', '.join(mixed)} beside split keys)"
        )
    name = split or "all"
    if name not in keys:
        raise ConfigError(
            f"annotations.keys.{name}: missing; annotations.files names a file for {name}, so keys need "
            f"{name}: {{image: ..., label: ...}} (given for: {', '.join(keys)})"
        )
    return {**DEFAULT_KEYS, **keys[name]}


def load_npz(raw_dir: Path, relative: str, spec: dict, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images N x H x W x C as stored, labels N) of one file; DataError naming what is wrong."""
    keys = keys_for(spec, split)
    try:
        with np.load(raw_dir / relative, allow_pickle=False) as archive:
            missing = [f"{role} array {keys[role]!r}" for role in ("image", "label") if keys[role] not in archive.files]
            if missing:
                raise DataError(
                    f"{relative}: no {' and no '.join(missing)}; the file holds {', '.join(archive.files) or 'no arrays'} "
                    "(name them with annotations.keys: {image: ..., label: ...}, or per split: "
                    "{train: {image: ..., label: ...}, test: {...}})"
                )
            images, labels = archive[keys["image"]], archive[keys["label"]]
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{relative}: not a readable .npz file ({error})") from None
    except ValueError as error:  # object arrays need pickle, which could run code: refused
        raise DataError(f"{relative}: {error}; save labels as int or str arrays, not Python objects") from None
    return _shaped(images, labels, relative)


def _shaped(images: np.ndarray, labels: np.ndarray, relative: str) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in CHANNELS:
        hint = " (channels first? save it as N x H x W x C)" if images.ndim == 4 and images.shape[1] in CHANNELS else ""
        raise DataError(
            f"{relative}: images are {images.shape}; expected N x H x W or N x H x W x C with C in {CHANNELS}{hint}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{relative}: {len(images)} images but labels of shape {labels.shape}; expected ({len(images)},)"
        )
    return images, labels


def _integers(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    outside = ((images < 0) | (images > 255)).reshape(len(images), -1).any(axis=1)
    return np.clip(images, 0, 255).astype(np.uint8), np.where(outside, OUT_OF_RANGE, OK)


def _floats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    finite = np.isfinite(images)
    per_image = lambda mask: mask.reshape(len(images), -1).any(axis=1)  # noqa: E731
    # 0..1 or 0..255: the majority of the file's images decides (see the module docstring)
    within_unit = ~per_image(finite & (images > 1))
    scale = 255.0 if within_unit.sum() * 2 > len(images) else 1.0
    scaled = np.where(finite, images * scale, 0.0)
    problem = np.where(per_image((scaled < 0) | (scaled > 255)), OUT_OF_RANGE, OK)
    problem = np.where(per_image(~finite), NON_NUMERIC, problem)
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8), problem


# dtype kind -> conversion to (uint8 images, problem code per image)
CONVERSIONS = {
    "u": _integers,
    "i": _integers,
    "f": _floats,
    "b": lambda images: (images.astype(np.uint8) * 255, np.full(len(images), OK)),
}


def to_uint8(images: np.ndarray, relative: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images, problem code per image) by the rules of the module docstring."""
    if images.dtype == np.uint8:
        return images, np.full(len(images), OK)
    convert = CONVERSIONS.get(images.dtype.kind)
    if convert is None:
        raise DataError(
            f"{relative}: images have dtype {images.dtype}; expected uint8, another integer type, float or bool"
        )
    return convert(images)


def _problem_detail(code: int, images: np.ndarray, index: int) -> str:
    values = images[index].astype(np.float64)
    if code == NON_NUMERIC:
        return f"image {index}: {int((~np.isfinite(values)).sum())} NaN or infinite values"
    finite = values[np.isfinite(values)]
    return f"image {index}: values from {finite.min():g} to {finite.max():g}, outside the file's 0..255 scale"


def read_file(raw_dir: Path, relative: str, split: str | None, spec: dict, classes: list[str]):
    """(rows, issues, images read) of one npz file (its arrays for `split` with per-split keys)."""
    images, labels = load_npz(raw_dir, relative, spec, split)
    # With per-split keys one file holds several image arrays: each is its own "file" downstream.
    name = f"{relative}[{keys_for(spec, split)['image']}]" if per_split(spec) else relative
    _, problem = to_uint8(images, name)
    bad = np.flatnonzero(problem != OK)
    issues = [Issue(name, int(i) + 1, REASONS[problem[i]], _problem_detail(problem[i], images, i)) for i in bad]
    keep = np.flatnonzero(problem == OK)
    label_text = labels[keep] if labels.dtype.kind in "iuU" else labels[keep].astype(str)
    rows = make_rows(
        {
            "source_file": name,
            "source_row": keep + 1,
            "photo": name,
            "array_index": keep,
            "label": class_names(pd.Series(label_text, dtype=object), classes),
            "table_width": images.shape[2],
            "table_height": images.shape[1],
            "given_split": split or "",
        },
        len(keep),
    )
    return rows, issues, len(images)


def read(raw_dir: Path, spec: dict, classes: list[str]) -> ReadResult:
    """Rows of every npz file named in `files`, and the images that could not be used."""
    files = annotation_files(raw_dir, spec)
    frames, issues, total = [], [], 0
    for relative, split in files:
        rows, bad, count = read_file(raw_dir, relative, split, spec, classes)
        frames.append(rows)
        issues += bad
        total += count
    names = [f"{f}[{keys_for(spec, s)['image']}]" if per_split(spec) else f for f, s in files]
    return ReadResult(rows=pd.concat(frames, ignore_index=True), rows_read=total, issues=issues, files=names)


def _array_of(photo: str, spec: dict) -> tuple[str, str | None]:
    """(file, split whose keys name its image array) of a row's `photo` (`mnist.npz[x_train]`
    with per-split keys; the file itself otherwise)."""
    if not per_split(spec):
        return photo, None
    match = _ARRAY_REF.match(photo)
    found = [s for s, k in spec["keys"].items() if match and {**DEFAULT_KEYS, **k}["image"] == match["key"]]
    if not found:
        raise DataError(f"{photo}: names no image array of annotations.keys (was the config changed after validate?)")
    return match["file"], None if found[0] == "all" else found[0]


def load_arrays(raw_dir: Path, spec: dict, rows: pd.DataFrame) -> np.ndarray:
    """uint8 images of `rows` (photo = npz file, array_index = index), in row order."""
    index = pd.to_numeric(rows["array_index"], errors="coerce").to_numpy()
    photos = rows["photo"].to_numpy()
    out = None
    for photo in pd.unique(photos):
        relative, split = _array_of(photo, spec)
        images, _ = load_npz(Path(raw_dir), relative, spec, split)
        mine = np.flatnonzero(photos == photo)
        wanted = index[mine]
        if np.isnan(wanted).any() or (wanted < 0).any() or (wanted >= len(images)).any():
            raise DataError(
                f"{relative}: the annotations name images the file does not have (was it changed after validate?)"
            )
        converted, _ = to_uint8(images, relative)  # on the whole file: the scale is the file's
        if out is None:
            out = np.zeros((len(rows), *converted.shape[1:]), dtype=np.uint8)
        if converted.shape[1:] != out.shape[1:]:
            raise DataError(
                f"{relative}: images are {converted.shape[1:]}, other files' {out.shape[1:]}; one split needs one image shape"
            )
        out[mine] = converted[wanted.astype(np.int64)]
    return out if out is not None else np.zeros((0, 1, 1, 1), dtype=np.uint8)


def _describe(path: str) -> None:
    raw_dir, name = Path(path).parent, Path(path).name
    images, labels = load_npz(raw_dir, name, {})
    _, problem = to_uint8(images, name)
    print(f"{name}: images {images.shape} {images.dtype}, labels {labels.shape} {labels.dtype}, "
          f"{int((problem != OK).sum())} unusable images")  # fmt: skip


if __name__ == "__main__":
    _describe(sys.argv[1])
