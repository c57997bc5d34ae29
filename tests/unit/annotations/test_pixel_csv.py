"""The FER2013-style pixel table reader (maskflow.annotations.pixel_csv), on generated CSV files
in exactly FER2013's layout (`emotion,pixels,Usage`, 48x48 gray, Disgust rare), bad rows included."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from maskflow.annotations import pixel_csv
from maskflow.annotations.validate import parse_spec, validate
from maskflow.data import cache
from maskflow.errors import DataError

from helpers.snakemake import run_snakemake

EMOTIONS = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
# FER2013's class shares (Disgust about 1.5 %) and Usage shares.
SHARES = np.array([4953, 547, 5121, 8989, 6077, 4002, 6198]) / 35887
USAGE = {"Training": 0.8, "PublicTest": 0.1, "PrivateTest": 0.1}


def fer_images(labels: np.ndarray, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """One simple pattern per class (stripes of a class-specific angle and frequency) plus noise."""
    y, x = np.mgrid[0:size, 0:size]
    angle = labels[:, None, None] * np.pi / 7
    frequency = (2 + labels[:, None, None]) / size
    wave = np.sin(2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)))
    noisy = 128 + 80 * wave + rng.normal(0, 20, (len(labels), size, size))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def fer_csv(n: int, seed: int = 0) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """(CSV text, labels, images, usage) of n generated rows in FER2013's exact layout."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(7, size=n, p=SHARES)
    usage = rng.choice(list(USAGE), size=n, p=list(USAGE.values()))
    images = fer_images(labels, rng)
    buffer = io.StringIO()
    np.savetxt(buffer, images.reshape(n, -1), fmt="%d", delimiter=" ")
    pixels = buffer.getvalue().splitlines()
    lines = ["emotion,pixels,Usage"] + [f"{e},{p},{u}" for e, p, u in zip(labels, pixels, usage)]
    return "\n".join(lines) + "\n", labels, images, usage


# (line text to put in place of a good row, reason expected); line numbers are chosen below
BAD_ROWS = [
    ("3," + " ".join(["7"] * 2303) + ",Training", "wrong_pixel_count"),
    ("3,,Training", "wrong_pixel_count"),
    ("3," + " ".join(["7"] * 1000 + ["abc"] + ["7"] * 1303) + ",Training", "non_numeric_pixels"),
    ("3," + " ".join(["7.5"] * 2304) + ",PublicTest", "non_numeric_pixels"),
    ("3," + " ".join(["7"] * 2303 + ["256"]) + ",Training", "pixel_out_of_range"),
    ("3," + " ".join(["-1"] + ["7"] * 2303) + ",PrivateTest", "pixel_out_of_range"),
]


@pytest.fixture(scope="module")
def fer(tmp_path_factory):
    """A 600-row FER2013-layout file with the BAD_ROWS and two unknown emotions planted."""
    raw = tmp_path_factory.mktemp("raw")
    text, labels, images, usage = fer_csv(600)
    lines = text.splitlines()
    bad_lines = {}
    for k, (line, reason) in enumerate(BAD_ROWS):
        number = 10 + 37 * k  # line number: header = line 1
        lines[number - 1] = line
        bad_lines[number] = reason
    unknown = {50: "9", 51: ""}
    for number, emotion in unknown.items():
        lines[number - 1] = emotion + lines[number - 1][lines[number - 1].index(",") :]
    (raw / "fer2013.csv").write_text("\n".join(lines) + "\n")
    good = np.ones(600, dtype=bool)
    good[[number - 2 for number in bad_lines]] = False
    return raw, labels, images, usage, good, bad_lines, unknown


SPEC = {"format": "pixel_csv", "files": "fer2013.csv"}


def test_reads_rows_maps_emotions_and_usage_and_reports_bad_rows_by_line(fer):
    raw, labels, images, usage, good, bad_lines, unknown = fer
    result = pixel_csv.read(raw, SPEC, EMOTIONS)
    rows = result.rows

    assert result.rows_read == 600 and len(rows) == good.sum() and result.files == ["fer2013.csv"]
    assert {(issue.row, issue.reason) for issue in result.issues} == set(bad_lines.items())
    assert all(issue.file == "fer2013.csv" and issue.detail for issue in result.issues)
    details = {issue.row: issue.detail for issue in result.issues}
    assert details[10] == "2303 values, expected 2304"
    assert details[84] == "value 1001 ('abc') is not an integer"
    assert details[158] == "value 2304 (256) is outside 0..255"

    assert rows["source_row"].tolist() == [i + 2 for i in np.flatnonzero(good)]
    assert rows["array_index"].tolist() == np.flatnonzero(good).tolist()
    assert (rows["photo"] == "fer2013.csv").all() and (rows["source_file"] == "fer2013.csv").all()
    assert (rows["table_width"] == 48).all() and (rows["table_height"] == 48).all()
    assert rows["given_split"].tolist() == [pixel_csv.FER_SPLITS[u] for u in usage[good]]
    # emotions are indices into the classes; the unknown ones stay as written for the label check
    expected = [EMOTIONS[k] for k in labels[good]]
    for number, emotion in unknown.items():
        expected[int(np.flatnonzero(np.flatnonzero(good) == number - 2)[0])] = emotion or None
    assert [None if pd.isna(v) else v for v in rows["label"]] == expected
    disgust = (labels == 1).mean()
    assert 0.005 < disgust < 0.03  # the generator keeps Disgust rare, as in FER2013


def test_load_arrays_returns_the_generated_pixels_in_row_order(fer):
    raw, labels, images, usage, good, _, _ = fer
    rows = pixel_csv.read(raw, SPEC, EMOTIONS).rows
    # the cache stage passes rows of one split, as strings, in its own order
    subset = rows.sample(frac=0.5, random_state=1).astype(str)
    loaded = pixel_csv.load_arrays(raw, SPEC, subset)
    assert loaded.dtype == np.uint8 and loaded.shape == (len(subset), 48, 48, 1)
    np.testing.assert_array_equal(loaded[..., 0], images[subset["array_index"].astype(int).to_numpy()])


def test_vectorised_parse_agrees_with_a_plain_python_parse():
    rng = np.random.default_rng(5)
    texts = []
    for _ in range(300):
        values = rng.integers(0, 256, size=12).astype(str).tolist()
        kind = rng.integers(0, 6)
        if kind == 1:
            values[rng.integers(12)] = rng.choice(["x", "1e3", "nan", "4,5", "--3", "+7", "٣"])
        elif kind == 2:
            values = values[: rng.integers(0, 12)] if rng.random() < 0.5 else values + ["9"]
        elif kind == 3:
            values[rng.integers(12)] = str(rng.choice([256, 1000, 99999999999, -5]))
        elif kind == 4:
            # leading zeros are still the number, up to three digits ("007"); "0007" is out of range
            values[rng.integers(12)] = rng.choice(["0", "00", "000"]) + values[0][: rng.integers(1, 4)]
        separator = rng.choice([" ", "  ", "\t", " \t "])
        texts.append(rng.choice(["", " "]) + separator.join(values) + rng.choice(["", " ", "\r"]))

    parsed = pixel_csv.parse_pixels(texts, 12)

    for text, problem, pixels in zip(texts, parsed.problem, parsed.pixels):
        tokens = text.split()
        if not all(t.removeprefix("-").isascii() and t.removeprefix("-").isdigit() for t in tokens):
            expected = pixel_csv.NON_NUMERIC
        elif len(tokens) != 12:
            expected = pixel_csv.WRONG_COUNT
        elif not all(0 <= int(t) <= 255 and len(t) <= 3 for t in tokens):
            expected = pixel_csv.OUT_OF_RANGE
        else:
            expected = pixel_csv.OK
            assert pixels.tolist() == [int(t) for t in tokens], text
        assert problem == expected, (text, problem, expected)
    assert len(set(parsed.problem.tolist())) == 4  # every outcome was exercised


def test_files_per_split_custom_columns_and_image_size(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(6, 3, 4), dtype=np.uint8)
    for name, part in (("a.csv", images[:4]), ("b.csv", images[4:])):
        lines = ["idx;face;digit"] + [
            f"{i};{' '.join(map(str, im.ravel()))};{['cat', 'dog'][i % 2]}" for i, im in enumerate(part)
        ]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    # A ';'-separated export is read with its own delimiter (maskflow.annotations.tables detects
    # it), giving exactly what the comma-separated file gives.
    spec = {
        "files": {"train": "a.csv", "test": "b.csv"},
        "columns": {"label": "digit", "pixels": "face"},
        "image_size": [3, 4],
    }
    for delimiter in (";", ","):
        for name in ("a.csv", "b.csv"):
            path = tmp_path / name
            path.write_text(path.read_text().replace(";", delimiter))
        result = pixel_csv.read(tmp_path, spec, ["cat", "dog"])
        assert result.rows["given_split"].tolist() == ["train"] * 4 + ["test"] * 2
        assert result.rows["label"].tolist() == ["cat", "dog", "cat", "dog", "cat", "dog"]
        loaded = pixel_csv.load_arrays(tmp_path, spec, result.rows)
        np.testing.assert_array_equal(loaded[..., 0], images)


def test_unknown_usage_value_stops_with_the_line_and_the_fix(tmp_path):
    text = (
        fer_csv(5)[0]
        .replace("PublicTest", "Validation")
        .replace("PrivateTest", "Holdout")
        .replace("Training", "Holdout")
    )
    (tmp_path / "fer2013.csv").write_text(text)
    with pytest.raises(DataError, match=r"fer2013.csv row 2: split value 'Holdout'.*split_values"):
        pixel_csv.read(tmp_path, SPEC, EMOTIONS)
    split_values = {"Holdout": "test", "Validation": "val"}
    rows = pixel_csv.read(tmp_path, {**SPEC, "split_values": split_values}, EMOTIONS).rows
    assert set(rows["given_split"]) <= {"test", "val"} and len(rows) == 5


def test_through_validation_and_the_cache_stage(fer, tmp_path):
    raw, labels, images, usage, good, bad_lines, unknown = fer
    spec = {"annotations": SPEC, "classes": EMOTIONS, "preprocess": {"size": 24, "channels": "gray"}}

    table, report = validate(raw, *parse_spec(json.dumps({"annotations": SPEC, "classes": EMOTIONS})))

    assert report["rows_read"] == 600 and report["rows_kept"] == 600 - len(bad_lines) - len(unknown)
    assert {(d["row"], d["reason"]) for d in report["dropped"]} == set(bad_lines.items()) | {
        (50, "unknown_label"),
        (51, "unknown_label"),
    }
    assert table["row_id"].iloc[0] == "fer2013.csv:2" and table["photo_width"].iloc[0] == 48
    annotations = tmp_path / "annotations.csv"
    table.assign(split=table["given_split"]).to_csv(annotations, index=False)
    counts = cache.build_cache(raw, annotations, spec, tmp_path / "cache")
    assert counts == {split: int((table["given_split"] == split).sum()) for split in ("train", "val", "test")}
    x = np.load(tmp_path / "cache" / "val_x.npy")
    index = pd.read_csv(tmp_path / "cache" / "val_index.csv")
    first = table.set_index("row_id").loc[index["row_id"].iloc[0], "array_index"]
    # 48 -> 24 by area averaging is the mean of 2x2 blocks
    expected = images[first].reshape(24, 2, 24, 2).mean(axis=(1, 3))
    assert x.shape == (len(index), 24, 24, 1) and np.abs(x[0, ..., 0] - expected).max() <= 1


@pytest.mark.workflow
def test_snakemake_data_stage_on_a_fer2013_file(fer, tmp_path):
    raw, labels, images, usage, good, bad_lines, unknown = fer
    config = {
        "device": "cpu",
        "datasets": {
            "fer": {
                "source": {"kind": "path", "path": str(raw)},
                "annotations": {"format": "pixel_csv", "files": "fer2013.csv", "image_size": [48, 48]},
                "classes": EMOTIONS,
                "preprocess": {"size": 24, "channels": "gray"},
            }
        },
        "models": {"mlp": {"dataset": "fer", "arch": {"type": "mlp", "hidden": [8]}}},
    }
    path = tmp_path / "fer.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML

    run_snakemake(tmp_path, "results/fer/stats/class_counts.csv", config=path)

    report = json.loads((tmp_path / "results/fer/data/quality.json").read_text())
    assert report["rows_kept"] == 600 - len(bad_lines) - len(unknown)
    assert report["counts"]["pixel_out_of_range"] == 2 and report["counts"]["wrong_pixel_count"] == 2
    counts = pd.read_csv(tmp_path / "results/fer/stats/class_counts.csv")
    kept_usage = pd.Series(usage[good]).map(pixel_csv.FER_SPLITS)
    # Usage decides the splits (the two rows with unknown emotions are gone from them)
    assert counts.groupby("split")["count"].sum().to_dict() == {
        split: int((kept_usage == split).sum()) - sum(usage[number - 2] == name for number in unknown)
        for name, split in pixel_csv.FER_SPLITS.items()
    }
    assert np.load(tmp_path / "results/fer/cache/train_x.npy").shape[1:] == (24, 24, 1)
