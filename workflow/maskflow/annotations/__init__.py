"""Annotations: read any supported format into one table of boxes, check it, report on it.

`maskflow validate` (validate.py) runs: reader -> shared checks (checks.py) -> validated.csv +
quality.json. Readers are a registry: format name -> module exposing

    read(raw_dir: Path, spec: dict, classes: list[str]) -> records.ReadResult

where `spec` is the dataset's `annotations` config and `classes` the configured class names
(for formats that write labels as class indices). A reader only turns its format into rows
(records.READ_COLUMNS) and reports what it could not read; checking photos, boxes and labels
is shared. Adding a format is one module and one line here (and, if it has its own reasons
for dropping rows, one line each in quality.REASONS).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from maskflow.errors import ConfigError

if TYPE_CHECKING:  # records imports pandas; this module is read at every Snakemake start (PHOTO_FORMATS)
    from maskflow.annotations.records import ReadResult

# format -> module with `read(raw_dir, spec, classes)`; imported only when used.
READERS: dict[str, str] = {
    "bbox_csv": "maskflow.annotations.bbox_csv",
    "voc_xml": "maskflow.annotations.voc_xml",
    "pixel_csv": "maskflow.annotations.pixel_csv",
    "npz": "maskflow.annotations.npz",
    "image_folder": "maskflow.annotations.image_folder",
}
# Formats cut from photos: only these have source photos and boxes to draw overlays on.
PHOTO_FORMATS = frozenset({"bbox_csv", "voc_xml", "image_folder"})


def read_annotations(raw_dir: str | Path, spec: dict, classes: list[str]) -> ReadResult:
    """Read the annotation files `spec` (the `annotations` config) names under raw_dir."""
    name = spec.get("format")
    if name not in READERS:
        raise ConfigError(f"annotations.format: {name!r} has no reader; readers: {', '.join(READERS)}")
    return importlib.import_module(READERS[name]).read(Path(raw_dir), spec, classes)
