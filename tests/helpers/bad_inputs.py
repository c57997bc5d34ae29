"""Helpers that write real input files for tests: photos (JPEG/PNG made with Pillow), broken
photos, annotation tables and VOC XML, and one dataset holding every kind of bad annotation row.

    from helpers.bad_inputs import write_photo, write_table, bad_masks_dataset
    expected = bad_masks_dataset(tmp_path / "raw")   # {reason: rows}, see its docstring
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

# The Medical Masks homework's classes and annotation spec, as the bad-input tests use them.
CLASSES = ["good", "bad", "none"]
HOMEWORK = {"format": "bbox_csv", "files": {"train": "train.csv", "test": "test.csv"}, "images": "images"}
HOMEWORK_HEADER = ("filename", "width", "height", "label", "xmin", "ymin", "xmax", "ymax")


def write_photo(
    path: Path, size: tuple[int, int] = (64, 48), seed: int = 0, exif_orientation: int | None = None
) -> Path:
    """A small real photo (JPEG or PNG by suffix) of `size` = (width, height), random content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB")
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(path, **kwargs)
    return path


def write_truncated_jpeg(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A JPEG cut off in the middle of its image data (a failed download)."""
    buffer = io.BytesIO()
    write_photo(path, size)
    data = path.read_bytes()
    buffer.write(data[: len(data) // 2])
    path.write_bytes(buffer.getvalue())
    return path


def write_not_an_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html>404 Not Found</html>\n")
    return path


def write_empty(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write_table(path: Path, header, rows, bom: bool = False, newline: str = "\n") -> Path:
    """A CSV with `header` and `rows` (cells written as given; None is an empty cell)."""

    def cell(value) -> str:
        text = "" if value is None else str(value)
        return f'"{text}"' if any(c in text for c in ',"\n') else text

    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(map(cell, header))] + [",".join(map(cell, row)) for row in rows]
    path.write_bytes((("\ufeff" if bom else "") + newline.join(lines) + newline).encode("utf-8"))
    return path


def write_voc(path: Path, filename: str | None, size: tuple[int, int] | None, objects) -> Path:
    """A Pascal VOC XML file; `objects` are (name, (xmin, ymin, xmax, ymax)) pairs."""
    parts = ["<annotation>", "  <folder>images</folder>"]
    if filename is not None:
        parts.append(f"  <filename>{escape(filename)}</filename>")
    if size is not None:
        parts.append(f"  <size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>")
    for name, box in objects:
        coords = "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
        parts.append(f"  <object><name>{escape(name)}</name><difficult>0</difficult><bndbox>{coords}</bndbox></object>")
    parts.append("</annotation>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def bad_masks_dataset(raw: Path) -> dict[str, list[int]]:
    """A homework-layout dataset (train.csv, test.csv, images/) with one row per problem.

    Returns {reason: [line numbers in train.csv]} for every reason it contains; 'kept' lists
    the lines that must survive (some of them repaired). Classes: good, bad, none.
    """
    images = raw / "images"
    write_photo(images / "a.jpg", (64, 48), seed=1)
    write_photo(images / "b.png", (40, 30), seed=2)
    write_photo(images / "c.jpg", (50, 50), seed=3)
    write_truncated_jpeg(images / "broken.jpg")
    write_not_an_image(images / "html.jpg")
    rows = [
        ("a.jpg", 64, 48, "good", 1, 2, 20, 30),  # line 2: clean
        ("a.jpg", 64, 48, " Bad", 30, 5, 60, 40),  # 3: label_normalized
        ("b.png", 40, 30, "none", -5, 0, 10, 10),  # 4: box_clipped
        ("b.png", 40, 30, "good", 50, 40, 70, 60),  # 5: box_outside
        ("c.jpg", 50, 50, "good", 10, 10, 10, 20),  # 6: zero_area
        ("c.jpg", 50, 50, "good", 30, 10, 20, 20),  # 7: inverted_box
        ("c.jpg", 50, 50, "good", None, 10, 20, 20),  # 8: nan_coordinate
        ("c.jpg", 50, 50, "good", "1.6", "2.4", "20.5", 30),  # 9: float_coordinate
        ("c.jpg", 50, 50, "mask", 1, 1, 20, 20),  # 10: unknown_label
        ("missing.jpg", 50, 50, "good", 1, 1, 20, 20),  # 11: missing_photo
        ("broken.jpg", 64, 48, "good", 1, 1, 20, 20),  # 12: corrupt_photo
        ("html.jpg", 64, 48, "good", 1, 1, 20, 20),  # 13: corrupt_photo
        ("a.jpg", 64, 48, "good", 1, 2, 20, 30),  # 14: duplicate_row (of line 2)
        ("c.jpg", 60, 40, "bad", 5, 5, 25, 25),  # 15: size_mismatch (repaired)
        (None, 50, 50, "good", 1, 1, 20, 20),  # 16: missing_photo (no file name)
        ("c.jpg", 50, 50, None, 1, 1, 20, 20),  # 17: unknown_label (empty)
    ]
    write_table(raw / "train.csv", HOMEWORK_HEADER, rows)
    write_table(raw / "test.csv", HOMEWORK_HEADER, [("b.png", 40, 30, "good", 5, 5, 25, 25)])
    return {
        "label_normalized": [3],
        "box_clipped": [4],
        "box_outside": [5],
        "zero_area": [6],
        "inverted_box": [7],
        "nan_coordinate": [8],
        "float_coordinate": [9],
        "unknown_label": [10, 17],
        "missing_photo": [11, 16],
        "corrupt_photo": [12, 13],
        "duplicate_row": [14],
        "size_mismatch": [15],
        "kept": [2, 3, 4, 9, 15],
    }
