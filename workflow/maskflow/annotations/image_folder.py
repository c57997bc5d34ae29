"""Reader for an image folder: one subfolder per class, the whole photo is the sample.

    annotations:
      format: image_folder
      images: photos                       # folder of class folders, relative to raw/ ('' = raw/)
      # or, when the data comes split:
      files: {train: photos/train, test: photos/test}   # each a folder of class folders

    photos/train/cat/001.jpg, photos/train/dog/a.png, ...

Each photo under a class folder (searched recursively) becomes one row labelled with the
folder's name, with the whole photo as its box (0, 0, width, height: the size as displayed,
EXIF orientation applied), so the cache crops it through the same photo path as any box.
Folder names are matched to `classes` like any label (`rename`, `label_case`). Hidden files
and folders (a leading '.', e.g. .DS_Store) are skipped; every other file is a row, so a
stray non-image is reported as `corrupt_photo` by the photo check rather than silently ignored.
A file lying directly in the folder, outside any class folder, is `unknown_label`.

A row's `source_file` is the photo itself and `source_row` is 1 (there is no annotation
table), so its `row_id` is `photos/train/cat/001.jpg:1`.

    python -m maskflow.annotations.image_folder RAW_DIR [IMAGES]     # class counts found
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pandas as pd

from maskflow.annotations.quality import Issue
from maskflow.annotations.records import RAW_BOX, ReadResult, make_rows
from maskflow.annotations.tables import annotation_files
from maskflow.data.photos import probe_photo
from maskflow.errors import DataError

log = logging.getLogger(__name__)


def _roots(raw_dir: Path, spec: dict) -> list[tuple[str, str | None]]:
    """[(folder of class folders relative to raw_dir, given split or None)]."""
    if spec.get("files"):
        return annotation_files(raw_dir, spec, kind="folder")
    images = spec.get("images") or "."
    if not (raw_dir / images).is_dir():
        raise DataError(f"{raw_dir / images}: image folder not found (annotations.images)")
    return [(images, None)]


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _size(path: Path) -> tuple[int | None, int | None]:
    """Displayed size from the header only; an unreadable file gets no size and is reported
    by the shared photo check, which decodes every photo."""
    try:
        return probe_photo(path, verify=False)
    except DataError:
        return None, None


def read_folder(raw_dir: Path, folder: str, split: str | None) -> tuple[pd.DataFrame, list[Issue]]:
    root = raw_dir / folder
    files = sorted(p for p in root.rglob("*") if p.is_file() and _visible(p, root))
    loose = [p for p in files if p.parent == root]
    issues = [
        Issue(p.relative_to(raw_dir).as_posix(), 1, "unknown_label", f"not inside a class folder of {folder}")
        for p in loose
    ]
    photos = [p for p in files if p.parent != root]
    sizes = [_size(p) for p in photos]
    relative = [p.relative_to(raw_dir).as_posix() for p in photos]
    width = [w for w, _ in sizes]
    height = [h for _, h in sizes]
    rows = make_rows(
        {
            "source_file": relative,
            "source_row": [1] * len(photos),
            "photo": relative,
            "label": [p.relative_to(root).parts[0] for p in photos],
            **dict(zip(RAW_BOX, ([0] * len(photos), [0] * len(photos), width, height))),
            "table_width": width,
            "table_height": height,
            "given_split": split or "",
        },
        len(photos),
    )
    return rows, issues


def read(raw_dir: Path, spec: dict, classes: list[str] | None = None) -> ReadResult:
    """One row per photo under the class folders, labelled with the class folder's name."""
    frames, issues, names = [], [], []
    for folder, split in _roots(raw_dir, spec):
        rows, loose = read_folder(raw_dir, folder, split)
        if rows.empty and not loose:
            raise DataError(f"{raw_dir / folder}: no photos in class folders (expected {folder}/<class>/<photo>)")
        frames.append(rows)
        issues += loose
        names.append(folder)
    rows = pd.concat(frames, ignore_index=True)
    log.info("%d photos in %d class folders", len(rows), rows["label"].nunique())
    return ReadResult(rows=rows, rows_read=len(rows) + len(issues), issues=issues, files=names)


if __name__ == "__main__":
    result = read(Path(sys.argv[1]), {"images": sys.argv[2] if len(sys.argv) > 2 else ""})
    print(result.rows.groupby(["given_split", "label"]).size().to_string())
