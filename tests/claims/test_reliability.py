"""The bad-input corpus of issue 8, one table per kind, each case with its defined outcome,
through the real commands: `maskflow validate` and `maskflow cache` (photos, annotation
tables), `snakemake -n` (config), `maskflow stats` (cache files) and `maskflow evaluate`
(checkpoints). The README's "Reliability" section lists the same cases and outcomes.

Outcomes are either a row of quality.json with its reason (the row is dropped, the run goes
on), a correct crop in the cache, or exit status 2 with one message naming the file, row and
problem (no traceback).
"""

from __future__ import annotations

import copy
import io
import json
import os
import resource
import shutil
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
import torch
import yaml
from PIL import Image

from maskflow.cli import main
from maskflow.data import integrity
from maskflow.errors import CheckpointError, DataError
from maskflow.io import hashing
from maskflow.models.checkpoint import check_checkpoint

from helpers import TINY_CONFIG
from helpers.bad_inputs import HOMEWORK_HEADER, bad_masks_dataset, write_not_an_image, write_table, write_truncated_jpeg
from helpers.cli import assert_clear_error, cli, evaluate_args, stats_args
from helpers.evaluation import write_cache, write_checkpoint
from helpers.snakemake import run_snakemake

CLASSES = ["good", "bad", "none"]
HOMEWORK = {"format": "bbox_csv", "files": {"train": "train.csv", "test": "test.csv"}, "images": "images"}
CROP = {"size": 8, "channels": "rgb", "margin": 0.0, "square": True}
MEMORY_LIMIT = 512 << 20  # address space of the validate run: far below a 20000 x 20000 decode (1.2 GB)


# ======================================================================== photos

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
    spec = json.dumps({"annotations": {**HOMEWORK, "files": {"train": "train.csv"}}, "classes": CLASSES})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "maskflow",
            "validate",
            "--raw-dir",
            str(raw),
            "--spec",
            spec,
            "--out",
            str(out),
            "--quality",
            str(quality),
        ],
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


# ======================================================================== annotation tables

BAD_ROWS = bad_masks_dataset  # every row-level reason (tests/helpers/bad_inputs.py), one line each


@pytest.fixture(scope="module")
def bad_rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("rows")
    expected = BAD_ROWS(root / "raw")
    spec = json.dumps({"annotations": HOMEWORK, "classes": CLASSES})
    main(
        [
            "validate",
            "--raw-dir",
            str(root / "raw"),
            "--spec",
            spec,
            "--out",
            str(root / "v.csv"),
            "--quality",
            str(root / "q.json"),
        ]
    )
    return expected, json.loads((root / "q.json").read_text()), pd.read_csv(root / "v.csv", dtype=str)


ROW_REASONS = [
    "label_normalized",
    "box_clipped",
    "box_outside",
    "zero_area",
    "inverted_box",
    "nan_coordinate",
    "float_coordinate",
    "unknown_label",
    "missing_photo",
    "corrupt_photo",
    "duplicate_row",
    "size_mismatch",
]


@pytest.mark.parametrize("reason", ROW_REASONS)
def test_annotation_rows_get_their_reason_and_line(bad_rows, reason):
    expected, report, kept = bad_rows
    lines = [
        r["row"] for r in report["dropped"] + report["repaired"] if r["reason"] == reason and r["file"] == "train.csv"
    ]
    assert lines == expected[reason]
    repaired = {r["reason"] for r in report["repaired"]}
    assert (reason in repaired) == all(f"train.csv:{line}" in set(kept["row_id"]) for line in lines)


def one_box_table(raw: Path, header, rows, **kwargs) -> Path:
    (raw / "images").mkdir(parents=True)
    Image.new("RGB", SIZE, (0, 128, 0)).save(raw / "images" / "a.jpg")
    write_table(raw / "boxes.csv", header, rows, **kwargs)
    return raw


TABLE = ("filename", "label", "xmin", "ymin", "xmax", "ymax")
ROW = ("a.jpg", "good", 1, 2, 30, 40)
GOOD_TWICE = [ROW, ("a.jpg", " GOOD ", 2, 2, 30, 40)]
# case -> (header, rows, write_table options, extra annotation settings, outcome: the error's
# fragments, or (rows kept, {reason: fragment of its detail}) for the quality report)
TABLES = {
    "UTF-8 BOM and CRLF": (TABLE, [ROW], {"bom": True, "newline": "\r\n"}, {}, (1, {})),
    "extra columns": ((*TABLE, "comment"), [(*ROW, "fine")], {}, {}, (1, {})),
    "missing column": (TABLE[:-1], [ROW[:-1]], {}, {}, ["boxes.csv: missing column 'ymax'"]),
    "empty file": (None, [], {}, {}, ["boxes.csv: the file is empty"]),
    "header only": (TABLE, [], {}, {}, ["boxes.csv: the file has a header", "but no rows"]),
    "label case and spaces, normalize": (TABLE, GOOD_TWICE, {}, {}, (2, {"label_normalized": "' GOOD '"})),
    "label case and spaces, strict": (
        TABLE,
        GOOD_TWICE,
        {},
        {"label_case": "strict"},
        (1, {"unknown_label": "label_case: normalize would read it as 'good'"}),
    ),
}


@pytest.mark.parametrize("case", list(TABLES))
def test_annotation_tables(tmp_path, capsys, case):
    header, rows, options, settings, outcome = TABLES[case]
    raw = one_box_table(tmp_path / "raw", header or TABLE, rows, **options)
    if header is None:
        (raw / "boxes.csv").write_bytes(b"")
    spec = json.dumps(
        {
            "annotations": {"format": "bbox_csv", "files": "boxes.csv", "images": "images", **settings},
            "classes": CLASSES,
        }
    )
    status, err = cli(
        "validate",
        "--raw-dir",
        str(raw),
        "--spec",
        spec,
        "--out",
        str(tmp_path / "v.csv"),
        "--quality",
        str(tmp_path / "q.json"),
        capsys=capsys,
    )
    if isinstance(outcome, tuple):
        kept, reasons = outcome
        assert status == 0, err
        report = json.loads((tmp_path / "q.json").read_text())
        assert report["rows_kept"] == kept == len(pd.read_csv(tmp_path / "v.csv"))
        assert report["rows_read"] - report["rows_kept"] == len(report["dropped"])
        rows = report["dropped"] + report["repaired"]
        assert {r["reason"]: r["row"] for r in rows} == {reason: 3 for reason in reasons}  # the second data line
        for row in rows:
            assert reasons[row["reason"]] in row["detail"], row
    else:
        assert_clear_error(status, err, *outcome)
        assert not (tmp_path / "v.csv").exists()


# ======================================================================== config

SCHEMA = yaml.safe_load((TINY_CONFIG.parents[2] / "workflow/schemas/config.schema.yaml").read_text())
ARCH_TYPES = ", ".join(map(repr, SCHEMA["$defs"]["arch"]["properties"]["type"]["enum"]))
TOP_KEYS = ", ".join(sorted(SCHEMA["properties"]))
# case -> (edit of tests/config/tiny.yaml, the lines Snakemake shows: README's "config: invalid config:"
# then "models.mlp.arch.type: 'transformer' is not allowed; allowed values: ..." (one line per problem),
# or one "config: ..." line for a mistake the schema cannot see)
CONFIGS = {
    "unknown key": (
        lambda c: c.update(colour="blue"),
        "config: invalid config:",
        f"<top level>: Additional properties are not allowed ('colour' was unexpected); allowed keys: {TOP_KEYS}",
    ),
    "wrong type": (
        lambda c: c["models"]["cnn"]["train"].update(epochs="ten"),
        "config: invalid config:",
        "models.cnn.train.epochs: 'ten' is not of type 'integer'",
    ),
    "unknown model type": (
        lambda c: c["models"]["mlp"]["arch"].update(type="transformer"),
        "config: invalid config:",
        f"models.mlp.arch.type: 'transformer' is not allowed; allowed values: {ARCH_TYPES}",
    ),
    "base does not exist": (
        lambda c: c["models"]["cnn_aug"].update(base="nope"),
        "config: models.cnn_aug.base: unknown model 'nope'; defined models: cnn, cnn_aug, lr-lr0.01, lr-lr0.1, mlp, seq",
    ),
    "data set does not exist": (
        lambda c: c["models"]["mlp"].update(dataset="faces"),
        "config: models.mlp.dataset: unknown dataset 'faces'; defined datasets: masks",
    ),
}


def config_error(output: str) -> list[str]:
    """The 'config: ...' line Snakemake shows and, for schema errors, the first problem line under it."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("config: "))
    if lines[start] != "config: invalid config:":
        return [lines[start]]
    return [lines[start], lines[start + 1].strip()]


@pytest.mark.parametrize("case", list(CONFIGS))
def test_config_mistakes_stop_snakemake_naming_the_key(tmp_path, case):
    edit, *expected = CONFIGS[case]
    config = yaml.safe_load(TINY_CONFIG.read_text())
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    process = run_snakemake(tmp_path, "-n", config=path, check=False)
    output = process.stdout + process.stderr
    assert process.returncode != 0
    assert config_error(output) == expected, output[-2000:]
    assert "Traceback" not in output


# ======================================================================== cache files


@pytest.fixture
def sealed_cache(tmp_path, capsys):
    """A cache (tests/unit/evaluation/test_evaluate.py's) and its normalization.json written by `maskflow stats`."""
    cache_dir = write_cache(tmp_path / "cache")
    status, err = cli(
        *stats_args(str(cache_dir), CLASSES, str(tmp_path / "counts.csv"), str(tmp_path / "normalization.json")),
        capsys=capsys,
    )
    assert status == 0, err
    return cache_dir


def other_run(tmp_path: Path) -> Path:
    """The same layout from another seed: as if copied in from another run."""
    return write_cache(tmp_path / "other" / "cache", seed=7)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 100])


# case -> (breakage(cache_dir, tmp_path), file named, fragment of the problem)
CACHE_BREAKAGES = {
    "truncated x": (
        lambda c, t: truncate(c / "val_x.npy"),
        "val_x.npy",
        "truncated: the header describes uint8 12 x 12 x 12 x 3",
    ),
    "truncated header": (
        lambda c, t: (c / "val_y.npy").write_bytes(b"\x93NUMPY\x01"),
        "val_y.npy",
        "not a readable .npy",
    ),
    "empty index": (lambda c, t: (c / "test_index.csv").write_bytes(b""), "test_index.csv", "empty file"),
    "index line cut short": (
        lambda c, t: (c / "val_index.csv").write_text(
            "\n".join(
                line if n != 3 else line.rsplit(",", 2)[0]
                for n, line in enumerate((c / "val_index.csv").read_text().splitlines())
            )
            + "\n"
        ),
        "val_index.csv",
        "line 4 does not have the header's",
    ),
    "label_index not a whole number": (
        lambda c, t: (c / "test_index.csv").write_text(
            (c / "test_index.csv").read_text().replace("\n", "\r", 1).replace(",0\n", ",²\n", 1).replace("\r", "\n", 1)
        ),
        "test_index.csv",
        "(label_index ²) but test_y.npy has label 0",
    ),
    "index not UTF-8": (
        lambda c, t: (c / "val_index.csv").write_bytes((c / "val_index.csv").read_bytes() + b"\xff\xfe,\n"),
        "val_index.csv",
        "cannot read the cache index",
    ),
    "y from another run": (
        lambda c, t: shutil.copy(other_run(t) / "val_y.npy", c / "val_y.npy"),
        "val_index.csv",
        "line 4 (row_id val.csv:3) says 'good' (label_index 0) but val_y.npy has label 1 at position 2: "
        "the two files come from different runs",
    ),
    "index from another run": (
        lambda c, t: shutil.copy(other_run(t) / "test_index.csv", c / "test_index.csv"),
        "test_index.csv",
        "line 2 (row_id test.csv:1) says 'good' (label_index 0) but test_y.npy has label 1 at position 0: "
        "the two files come from different runs",
    ),
    "labels and x of different lengths": (
        lambda c, t: np.save(c / "test_y.npy", np.zeros(3, np.int64)),
        "test_y.npy",
        "3 labels but test_x.npy holds 15 crops",
    ),
    "labels saved as crops": (
        lambda c, t: shutil.copy(c / "train_y.npy", c / "train_x.npy"),
        "train_x.npy",
        "expected uint8 N x H x W x C crops",
    ),
}


@pytest.mark.parametrize("case", list(CACHE_BREAKAGES))
def test_a_broken_cache_is_refused_naming_the_file_and_how_to_rebuild(sealed_cache, tmp_path, capsys, case):
    breakage, name, problem = CACHE_BREAKAGES[case]
    breakage(sealed_cache, tmp_path)
    status, err = cli(
        *stats_args(str(sealed_cache), CLASSES, str(tmp_path / "c2.csv"), str(tmp_path / "n2.json")), capsys=capsys
    )
    assert_clear_error(status, err, name, problem, "snakemake --forcerun cache")
    assert not (tmp_path / "n2.json").exists()


def test_a_cache_file_swapped_in_from_another_run_breaks_the_seal(sealed_cache, tmp_path):
    seal = integrity.read_seal(tmp_path / "normalization.json")
    assert set(seal.checksums) == set(integrity.cache_names())
    for split in ("train", "val", "test"):
        integrity.load_split(sealed_cache, split, classes=CLASSES, seal=seal)
    other = other_run(tmp_path)
    shutil.copy2(other / "test_x.npy", sealed_cache / "test_x.npy")  # same shape, old mtime: Snakemake sees nothing
    with pytest.raises(DataError, match=r"test_x.npy: sha256 .* differs from .* recorded in .*normalization.json"):
        integrity.load_split(sealed_cache, "test", classes=CLASSES, seal=seal)


def test_a_cache_file_swapped_in_with_a_newer_date_is_refused_not_sealed(sealed_cache, tmp_path, capsys):
    """A newer file makes Snakemake rerun the statistics: they must refuse it, not seal it."""
    shutil.copy(other_run(tmp_path) / "val_x.npy", sealed_cache / "val_x.npy")  # plain copy: a new mtime
    status, err = cli(
        *stats_args(str(sealed_cache), CLASSES, str(tmp_path / "c2.csv"), str(tmp_path / "n2.json")), capsys=capsys
    )
    assert_clear_error(status, err, "val_x.npy", "recorded in", "checksums.json", "snakemake --forcerun cache")
    assert not (tmp_path / "n2.json").exists()


def test_a_cache_without_its_checksums_is_refused(sealed_cache, tmp_path, capsys):
    (sealed_cache / "checksums.json").unlink()
    status, err = cli(
        *stats_args(str(sealed_cache), CLASSES, str(tmp_path / "c2.csv"), str(tmp_path / "n2.json")), capsys=capsys
    )
    assert_clear_error(status, err, "checksums.json", "not found", "snakemake --forcerun cache")


# ======================================================================== checkpoints


@pytest.fixture
def checkpoint_setup(sealed_cache, tmp_path):
    """A checkpoint (tests/unit/evaluation/test_evaluate.py's, epochs 2 of 2) of model `model_a` on the sealed cache."""
    model_dir = tmp_path / "models" / "model_a"
    write_checkpoint(model_dir / "checkpoint.pt", sealed_cache)
    return sealed_cache, model_dir


def evaluate(cache_dir: Path, model_dir: Path, capsys, *extra: str) -> tuple[int, str]:
    return cli(*evaluate_args(model_dir, cache_dir), *extra, capsys=capsys)


def resave(path: Path, **changes) -> dict:
    checkpoint = torch.load(path, weights_only=True)
    checkpoint.update(changes)
    torch.save(checkpoint, path)
    return checkpoint


def flip_a_weight_byte(path: Path) -> None:
    """Record the weights' sha256, then flip one byte inside the largest tensor's stored data."""
    checkpoint = resave(path)
    resave(path, weights_sha256=hashing.state_sha256(checkpoint["model_state"]))
    tensor = max(checkpoint["model_state"].values(), key=lambda t: t.numel())
    data, stored = bytearray(path.read_bytes()), tensor.numpy().tobytes()
    at = data.index(stored) + len(stored) // 2
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


# Each breakage takes (cache folder, model folder) and returns the model folder to evaluate.


def truncated(cache_dir: Path, model_dir: Path) -> Path:
    truncate(model_dir / "checkpoint.pt")
    return model_dir


def not_a_checkpoint(cache_dir: Path, model_dir: Path) -> Path:
    (model_dir / "checkpoint.pt").write_text("{}")
    return model_dir


def trained_on_other_data(cache_dir: Path, model_dir: Path) -> Path:
    write_checkpoint(model_dir / "checkpoint.pt", other_run(cache_dir.parent))
    return model_dir


def unfinished(cache_dir: Path, model_dir: Path) -> Path:
    resave(model_dir / "checkpoint.pt", epoch=1)  # of 2, no early stopping
    return model_dir


def copied_to_another_model(cache_dir: Path, model_dir: Path) -> Path:
    shutil.copytree(model_dir, model_dir.parent / "model_b")
    return model_dir.parent / "model_b"


def damaged_weights(cache_dir: Path, model_dir: Path) -> Path:
    flip_a_weight_byte(model_dir / "checkpoint.pt")
    return model_dir


def swapped_test_split(cache_dir: Path, model_dir: Path) -> Path:
    shutil.copy2(other_run(cache_dir.parent) / "test_x.npy", cache_dir / "test_x.npy")
    return model_dir


# case -> (breakage, fragments of the error ({checkpoint}: the checkpoint's path), marks, extra
# arguments: `--model` is what the evaluate rule passes)
CHECKPOINT_BREAKAGES = {
    "truncated": (truncated, ["{checkpoint}: not a readable checkpoint"], [], []),
    "not a checkpoint": (not_a_checkpoint, ["{checkpoint}: not a readable checkpoint"], [], []),
    "trained on another run's data": (
        trained_on_other_data,
        ["{checkpoint}: trained on train_x.npy with sha256", "retrain the model"],
        [],
        [],
    ),
    "training did not finish": (unfinished, ["{checkpoint}: saved after epoch 1 of 2", "snakemake --forcerun"], [], []),
    "another model's checkpoint": (
        copied_to_another_model,
        ["{checkpoint}: holds the weights of model 'model_a', not 'model_b'"],
        [],
        ["--model", "model_b"],
    ),
    "damaged weights": (damaged_weights, ["{checkpoint}: weights have sha256", "damaged"], [], []),
    "test split swapped in from another run": (
        swapped_test_split,
        ["test_x.npy: sha256", "snakemake --forcerun cache"],
        [],
        [],
    ),
}


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=marks) for case, (_, _, marks, _) in CHECKPOINT_BREAKAGES.items()]
)
def test_a_bad_checkpoint_is_refused_by_evaluate(checkpoint_setup, capsys, case):
    cache_dir, model_dir = checkpoint_setup
    assert evaluate(cache_dir, model_dir, capsys)[0] == 0  # the intact one is accepted
    breakage, fragments, _, extra = CHECKPOINT_BREAKAGES[case]
    model_dir = breakage(cache_dir, model_dir)
    status, err = evaluate(cache_dir, model_dir, capsys, *extra)
    assert_clear_error(status, err, *(f.format(checkpoint=model_dir / "checkpoint.pt") for f in fragments))


@pytest.mark.parametrize("case", ["training did not finish", "another model's checkpoint", "damaged weights"])
def test_integrity_refuses_what_evaluate_should(checkpoint_setup, case):
    """What evaluate will do once it calls maskflow.models.checkpoint.check_checkpoint."""
    from maskflow.models.checkpoint import load_checkpoint

    _, model_dir = checkpoint_setup
    check_checkpoint(load_checkpoint(model_dir / "checkpoint.pt"), model="model_a")
    breakage, fragments, _, _ = CHECKPOINT_BREAKAGES[case]
    model_dir = breakage(model_dir.parent.parent / "cache", model_dir)
    checkpoint = load_checkpoint(model_dir / "checkpoint.pt")
    with pytest.raises(CheckpointError) as error:
        check_checkpoint(checkpoint, model=model_dir.name)
    for fragment in fragments:
        assert fragment.format(checkpoint=model_dir / "checkpoint.pt") in str(error.value)


def test_a_finished_early_stopped_or_complete_checkpoint_is_accepted(checkpoint_setup):
    from maskflow.models.checkpoint import load_checkpoint

    _, model_dir = checkpoint_setup
    path = model_dir / "checkpoint.pt"
    spec = copy.deepcopy(torch.load(path, weights_only=True)["spec"])
    spec["train"]["early_stopping"] = {"monitor": "val_loss", "patience": 1}
    for changes in ({"epoch": 1, "spec": spec}, {"epoch": 1, "complete": True}):
        resave(path, **changes)
        check_checkpoint(load_checkpoint(path), model="model_a")
    resave(path, complete=False)
    with pytest.raises(CheckpointError, match="has not finished"):
        check_checkpoint(load_checkpoint(path))
