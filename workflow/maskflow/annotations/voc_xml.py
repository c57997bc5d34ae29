"""Reader for Pascal VOC: one XML file per photo, one <object> per box.

    annotations:
      format: voc_xml
      files: annotations          # folder of *.xml relative to raw/ (searched recursively),
                                  # or {train: ann/train, test: ann/test} to give the split
      images: images              # <filename> is relative to this folder

Each XML gives <filename>, <size><width>/<height> (checked against the photo; 0 means unknown)
and per <object> a <name> and a <bndbox> with xmin, ymin, xmax, ymax, used as written (xyxy;
VOC's 1-based convention is a one-pixel shift, below what a crop notices). A row is the
object's 1-based index in its file. A file that does not parse, or names no photo, is reported
as `unreadable_annotation` and the rest are read; an XML with no objects gives no rows.
"""

from __future__ import annotations

import logging
import posixpath
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pandas as pd

from maskflow.annotations.bbox_csv import photo_path
from maskflow.annotations.quality import Issue
from maskflow.annotations.records import RAW_BOX, ReadResult, make_rows
from maskflow.annotations.tables import annotation_files
from maskflow.errors import DataError

log = logging.getLogger(__name__)


def _size(root: ElementTree.Element, tag: str) -> str | None:
    value = root.findtext(f"size/{tag}")
    # Some tools write <width>0</width> when they did not know: that is no claim at all.
    return None if value is None or value.strip() in ("", "0") else value.strip()


def read_file(raw_dir: Path, relative: str, split: str | None, images: str) -> tuple[pd.DataFrame | None, Issue | None]:
    """(rows of one XML file, None), or (None, the reason it cannot be read)."""
    try:
        root = ElementTree.parse(raw_dir / relative).getroot()
    except (ElementTree.ParseError, UnicodeDecodeError) as error:
        return None, Issue(relative, None, "unreadable_annotation", f"not well-formed XML ({error})")
    filename = root.findtext("filename") or posixpath.basename((root.findtext("path") or "").replace("\\", "/"))
    if not filename.strip():
        return None, Issue(relative, None, "unreadable_annotation", "no <filename> (or <path>) names the photo")
    objects = root.findall("object")
    return (
        make_rows(
            {
                "source_file": relative,
                "source_row": range(1, len(objects) + 1),
                "photo": photo_path(images, filename.strip()),
                "label": [obj.findtext("name") for obj in objects],
                **{raw: [obj.findtext(f"bndbox/{raw[4:]}") for obj in objects] for raw in RAW_BOX},
                "table_width": _size(root, "width"),
                "table_height": _size(root, "height"),
                "given_split": split or "",
            },
            len(objects),
        ),
        None,
    )


def read(raw_dir: Path, spec: dict, classes: list[str] | None = None) -> ReadResult:
    images = spec.get("images") or ""
    frames, issues, names = [], [], []
    for folder, split in annotation_files(raw_dir, spec, kind="folder"):
        paths = sorted((raw_dir / folder).rglob("*.xml"))
        if not paths:
            raise DataError(f"{raw_dir / folder}: no .xml files in the annotation folder (annotations.files)")
        for path in paths:
            relative = path.relative_to(raw_dir).as_posix()
            names.append(relative)
            rows, issue = read_file(raw_dir, relative, split, images)
            if issue is None:
                frames.append(rows)
            else:
                issues.append(issue)
    empty = sum(len(f) == 0 for f in frames)
    if empty:
        log.info("%d XML files have no <object> (photos without boxes)", empty)
    kept = [f for f in frames if len(f)]
    rows = pd.concat(kept, ignore_index=True) if kept else make_rows({"source_row": []}, 0)
    return ReadResult(rows=rows, rows_read=len(rows), issues=issues, files=names)
