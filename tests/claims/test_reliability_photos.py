"""Bad photos (issue 8's corpus, README "Reliability"), through `maskflow validate` and `maskflow cache`:
each case a row of quality.json with its reason (dropped, the run goes on) or a correct crop in
the cache; a decompression bomb given straight to the cache stops with exit 2 naming the file and
row. docs/reproducibility.md lists the cases and outcomes.
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import subprocess
import sys
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.cli import main
from maskflow.data import integrity

from helpers.bad_inputs import CLASSES, HOMEWORK, HOMEWORK_HEADER, write_not_an_image, write_table, write_truncated_jpeg
from helpers.cli import assert_clear_error, cli, validate_args

CROP = {"size": 8, "channels": "rgb", "margin": 0.0, "square": True}
MEMORY_LIMIT = 512 << 20  # address space of the validate run: far below a 20000 x 20000 decode (1.2 GB)


SIZE = (64, 48)  # width, height of every corpus photo
BOX = (8, 8, 40, 40)


def solid(colour, mode="RGB", **save):
    def write(path: Path) -> None:
        Image.new(mode, SIZE, colour).save(path, **save)

    return write


def png_with_alpha(path: Path) -> None:
    """Left half opaque red, right half fully transparent (blue underneath): crops there are white."""
    pixels = np.zeros((SIZE[1], SIZE[0], 4), dtype=np.uint8)
    pixels[:, : SIZE[0] // 2] = (200, 0, 0, 255)
    pixels[:, SIZE[0] // 2 :] = (0, 0, 255, 0)
    Image.fromarray(pixels, "RGBA").save(path)


def png_16_bit(path: Path) -> None:
    Image.fromarray(np.full((SIZE[1], SIZE[0]), 32768, dtype=np.uint16)).save(path)  # mid-gray in 16 bits


def exif_rotated_jpeg(path: Path) -> None:
    """Stored 48 x 64, left half red and right half blue, EXIF orientation 6 (rotate 90 degrees
    clockwise): displayed 64 x 48 with the top half red. Its box (EXIF_BOX) lies in the displayed
    top half (red) but, read in stored coordinates, in the right half (blue): a crop that ignored
    EXIF, or turned the wrong way (the top half would be blue), comes out blue."""
    stored = np.zeros((SIZE[0], SIZE[1], 3), dtype=np.uint8)
    stored[:, : SIZE[1] // 2] = (255, 0, 0)
    stored[:, SIZE[1] // 2 :] = (0, 0, 255)
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(path, quality=95, subsampling=0, exif=exif)  # no chroma subsampling: sharp edges


def png_bomb(path: Path, width: int = 20000, height: int = 20000) -> None:
    """A tiny PNG whose header claims width x height (the IHDR chunk patched, its CRC redone)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR data starts at byte 16
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def jpeg_bomb(path: Path, width: int = 20000, height: int = 20000) -> None:
    """A tiny JPEG whose frame header (SOF0) claims width x height."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))


@dataclass(frozen=True)
class Photo:
    """One corpus photo: how to write it, the name the table gives it, and its outcome: either
    `rgb` (kept; every pixel of its crop within `tolerance` of it) or `reason` + `detail` (dropped)."""

    file: str
    write: Callable[[Path], None]
    rgb: tuple[int, int, int] | None = None
    tolerance: int = 6
    reason: str | None = None
    detail: str = ""
    table_name: str | None = None  # when the table spells the name differently from the disk
    box: tuple[int, int, int, int] = BOX


LONG = "long " + "x" * 220 + ".png"  # 229 characters
EXIF_BOX = (26, 2, 46, 16)  # displayed: x 26-46 of 64, y 2-16 of 48 (top half); stored: x 26-46 of 48 (right half)
NON_ASCII = "маска 口罩 visage été.jpg"
PHOTOS = {
    "plain JPEG": Photo("plain.jpg", solid((0, 128, 0), quality=95), rgb=(0, 128, 0)),
    "truncated JPEG": Photo(
        "truncated.jpg", write_truncated_jpeg, reason="corrupt_photo", detail="corrupt or truncated"
    ),
    "zero-byte file": Photo(
        "empty.jpg", lambda p: p.write_bytes(b""), reason="corrupt_photo", detail="empty file (0 bytes)"
    ),
    "text file named .jpg": Photo("html.jpg", write_not_an_image, reason="corrupt_photo", detail="not an image"),
    "PNG with alpha": Photo("alpha.png", png_with_alpha, rgb=(255, 255, 255), tolerance=0, box=(36, 8, 60, 32)),
    "16-bit PNG": Photo("gray16.png", png_16_bit, rgb=(128, 128, 128), tolerance=0),
    "CMYK JPEG": Photo("cmyk.jpg", solid((0, 255, 255, 0), "CMYK", quality=95), rgb=(255, 0, 0), tolerance=8),
    "EXIF-rotated JPEG": Photo("rotated.jpg", exif_rotated_jpeg, rgb=(255, 0, 0), tolerance=12, box=EXIF_BOX),
    "decompression bomb PNG": Photo(
        "bomb.png", png_bomb, reason="corrupt_photo", detail="20000x20000 = 400 Mpx exceeds"
    ),
    "decompression bomb JPEG": Photo(
        "bomb.jpg", jpeg_bomb, reason="corrupt_photo", detail="20000x20000 = 400 Mpx exceeds"
    ),
    "name with spaces": Photo("a photo  with spaces .jpg", solid((200, 100, 0), quality=95), rgb=(200, 100, 0)),
    "non-ASCII name": Photo(NON_ASCII, solid((10, 20, 200), quality=95), rgb=(10, 20, 200)),
    "name stored NFD, table NFC": Photo(
        unicodedata.normalize("NFD", "décomposé.png"), solid((90, 90, 10)), rgb=(90, 90, 10), table_name="décomposé.png"
    ),
    "name over 200 characters": Photo(LONG, solid((30, 160, 160)), rgb=(30, 160, 160)),
}


def write_corpus(raw: Path) -> None:
    """raw/images/ with every corpus photo and raw/train.csv with one box on each, in table order."""
    (raw / "images").mkdir(parents=True)
    rows = []
    for case in PHOTOS.values():
        case.write(raw / "images" / case.file)
        rows.append((case.table_name or case.file, *SIZE, "good", *case.box))
    write_table(raw / "train.csv", HOMEWORK_HEADER, rows)


def run_validate_with_little_memory(raw: Path, out: Path, quality: Path) -> subprocess.CompletedProcess:
    """`maskflow validate` in a child whose address space cannot hold one decoded bomb."""
    spec = {"annotations": {**HOMEWORK, "files": {"train": "train.csv"}}, "classes": CLASSES}
    return subprocess.run(
        [sys.executable, "-m", "maskflow", *validate_args(raw, spec, out, quality)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT)),
    )


@pytest.fixture(scope="module")
def photo_corpus(tmp_path_factory):
    """validate (memory-limited) -> every row to train -> cache; (quality report, {photo: crop})."""
    root = tmp_path_factory.mktemp("photos")
    raw = root / "raw"
    write_corpus(raw)
    validated, quality = root / "validated.csv", root / "quality.json"
    process = run_validate_with_little_memory(raw, validated, quality)
    assert process.returncode == 0, process.stderr
    pd.read_csv(validated, dtype=str, keep_default_na=False).assign(split="train").to_csv(
        root / "annotations.csv", index=False
    )
    spec = json.dumps({"preprocess": CROP, "annotations": {"format": "bbox_csv"}, "classes": CLASSES})
    main(
        [
            "cache",
            "--raw-dir",
            str(raw),
            "--annotations",
            str(root / "annotations.csv"),
            "--spec",
            spec,
            "--out-dir",
            str(root / "cache"),
        ]
    )
    train = integrity.load_split(root / "cache", "train", classes=CLASSES)
    names = [unicodedata.normalize("NFC", Path(p).name) for p in train.index["photo"]]
    return json.loads(quality.read_text()), dict(zip(names, train.x)), root


@pytest.mark.parametrize("case", list(PHOTOS))
def test_photo_corpus(photo_corpus, case):
    report, crops, _ = photo_corpus
    photo = PHOTOS[case]
    line = list(PHOTOS).index(case) + 2  # header is line 1
    rows = [r for r in report["dropped"] + report["repaired"] if r["row"] == line]
    name = unicodedata.normalize("NFC", photo.file)
    if photo.reason:
        assert [(r["file"], r["reason"]) for r in rows] == [("train.csv", photo.reason)]
        assert photo.file in rows[0]["detail"] and photo.detail in rows[0]["detail"], rows[0]["detail"]
        assert name not in crops
    else:
        assert rows == [], rows
        crop = crops[name].astype(int)
        assert crop.shape == (CROP["size"], CROP["size"], 3)
        assert np.abs(crop - np.array(photo.rgb)).max() <= photo.tolerance, crop.reshape(-1, 3)[:4]


@pytest.mark.parametrize("bomb", ["bomb.png", "bomb.jpg"])
def test_a_bomb_given_straight_to_the_cache_is_refused_naming_file_and_row(photo_corpus, capsys, bomb):
    _, _, root = photo_corpus
    rows = pd.read_csv(root / "annotations.csv", dtype=str, keep_default_na=False).head(1)
    rows = rows.assign(row_id="train.csv:10", photo=f"images/{bomb}")
    rows.to_csv(root / "bomb.csv", index=False)
    spec = json.dumps({"preprocess": CROP, "annotations": {"format": "bbox_csv"}, "classes": CLASSES})
    status, err = cli(
        "cache",
        "--raw-dir",
        str(root / "raw"),
        "--annotations",
        str(root / "bomb.csv"),
        "--spec",
        spec,
        "--out-dir",
        str(root / "bomb_cache"),
        capsys=capsys,
    )
    assert_clear_error(status, err, f"images/{bomb}: 20000x20000 = 400 Mpx exceeds", "annotation row train.csv:10")
    assert not (root / "bomb_cache" / "train_x.npy").exists()
