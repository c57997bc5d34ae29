"""`maskflow cache` and `crop_rows` on real photo files: outputs per split as in
docs/contracts.md, one decode per photo, identical bytes for any thread count, the array-format
registry, and clear errors (exit status 2) for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import weakref

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.data import cache
from maskflow.data.cache import BUILDERS, build_cache, crop_rows, from_arrays
from maskflow.data.crop import Preprocess, crop, finish, regions
from maskflow.data.photos import open_photo
from maskflow.errors import ConfigError, DataError
from maskflow.io.hashing import sha256_file

CLASSES = ["good", "bad", "none"]
PREPROCESS = {"size": 16, "channels": "rgb", "margin": 0.1, "square": True}
SPEC = {"preprocess": PREPROCESS, "annotations": {"format": "bbox_csv"}, "classes": CLASSES}


def photo_pixels(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 40 * (seed % 6))], axis=2)
    return np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def dataset(tmp_path):
    """raw/ with 7 photos (JPEG, PNG, an EXIF-rotated JPEG, long and non-ASCII names) and an
    annotations.csv in the contract's layout, photos of each split interleaved in the file."""
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    names = ["a.jpg", "b.png", "visage_été_c.jpg", "口罩_d.jpg", "e " + "x" * 160 + ".jpg", "rot.jpg", "f.jpg"]
    splits = ["train", "val", "train", "test", "train", "train", "val"]
    rng = np.random.default_rng(5)
    rows = []
    for i, (name, split) in enumerate(zip(names, splits)):
        width, height = int(rng.integers(300, 700)), int(rng.integers(240, 500))
        path = raw / "images" / name
        if name == "rot.jpg":  # stored landscape, displayed portrait (boxes are in display pixels)
            image = Image.fromarray(photo_pixels(height, width, i))
            exif = image.getexif()
            exif[0x0112] = 6
            image.save(path, quality=92, exif=exif)
        else:
            Image.fromarray(photo_pixels(width, height, i)).save(
                path, **({"quality": 92} if name.endswith("jpg") else {})
            )
        with Image.open(path) as opened:
            w, h = opened.size if name != "rot.jpg" else opened.size[::-1]
        for _j in range(int(rng.integers(1, 5))):
            side = int(rng.integers(12, 200))
            x0, y0 = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
            k = int(rng.integers(0, 3))
            number = len(rows) + 1
            rows.append(
                {
                    "row_id": f"train.csv:{number}",
                    "source_file": "train.csv",
                    "source_row": number,
                    "photo": f"images/{name}",
                    "array_index": "",
                    "photo_width": w,
                    "photo_height": h,
                    "xmin": x0,
                    "ymin": y0,
                    "xmax": x0 + side,
                    "ymax": y0 + side // 2 + 6,
                    "label": CLASSES[k],
                    "label_index": k,
                    "given_split": "",
                    "split": split,
                }
            )
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=1).reset_index(drop=True)  # interleave photos
    annotations = tmp_path / "annotations.csv"
    frame.to_csv(annotations, index=False)
    return raw, annotations, frame


def test_outputs_follow_the_contract(dataset, tmp_path):
    raw, annotations, frame = dataset
    out = tmp_path / "cache"
    counts = build_cache(raw, annotations, SPEC, out, threads=1)
    assert counts == frame["split"].value_counts().reindex(["train", "val", "test"]).to_dict()
    for split in ("train", "val", "test"):
        x = np.load(out / f"{split}_x.npy")
        y = np.load(out / f"{split}_y.npy")
        index = pd.read_csv(out / f"{split}_index.csv", keep_default_na=False)
        expected = frame[frame["split"] == split]
        assert x.dtype == np.uint8 and x.shape == (len(expected), 16, 16, 3)
        assert y.dtype == np.int64 and y.tolist() == expected["label_index"].tolist()
        assert list(index.columns) == ["row_id", "photo", "xmin", "ymin", "xmax", "ymax", "label", "label_index"]
        assert index["row_id"].tolist() == expected["row_id"].tolist()  # annotations.csv order
        # Each cached crop is the crop of its own row, made by the one crop function.
        for position, row in enumerate(expected.itertuples()):
            image, _ = open_photo(raw / row.photo, "rgb")
            region = regions(np.array([[row.xmin, row.ymin, row.xmax, row.ymax]]), 0.1, True)[0]
            reference = crop(image, region, Preprocess.from_spec(PREPROCESS)).astype(float)
            assert np.abs(x[position] - reference).mean() < 3.0


def test_empty_split_gives_empty_arrays(dataset, tmp_path):
    raw, annotations, frame = dataset
    frame[frame["split"] != "test"].to_csv(annotations, index=False)
    build_cache(raw, annotations, {**SPEC, "preprocess": {**PREPROCESS, "channels": "gray"}}, tmp_path / "c")
    assert np.load(tmp_path / "c" / "test_x.npy").shape == (0, 16, 16, 1)
    assert np.load(tmp_path / "c" / "test_y.npy").shape == (0,)
    assert pd.read_csv(tmp_path / "c" / "test_index.csv").empty


def test_thread_count_does_not_change_a_byte(dataset, tmp_path):
    raw, annotations, _ = dataset
    build_cache(raw, annotations, SPEC, tmp_path / "one", threads=1)
    build_cache(raw, annotations, SPEC, tmp_path / "two", threads=2)
    for path in sorted((tmp_path / "one").iterdir()):
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name


def test_each_photo_is_decoded_once_at_the_scale_its_boxes_allow(dataset, monkeypatch):
    raw, _, frame = dataset
    calls = []

    def counting_open(path, channels, min_scale):
        calls.append((path.name, min_scale))
        return open_photo(path, channels, min_scale)

    monkeypatch.setattr(cache, "open_photo", counting_open)
    crop_rows(raw, frame, PREPROCESS, threads=2)
    assert sorted(name for name, _ in calls) == sorted(p.split("/")[1] for p in frame["photo"].unique())
    for name, scale in calls:
        boxes = frame[frame["photo"] == f"images/{name}"]
        cut = regions(boxes[["xmin", "ymin", "xmax", "ymax"]].to_numpy(float), 0.1, True)
        shorter = np.minimum(cut[:, 2] - cut[:, 0], cut[:, 3] - cut[:, 1]).min()
        assert scale == pytest.approx(min(1.0, 32 / shorter))


@pytest.mark.parametrize("threads", [1, 2])
def test_only_as_many_decoded_photos_as_threads_are_alive(dataset, monkeypatch, threads):
    """Memory stays flat: a decoded photo is dropped once its boxes are cut."""
    raw, _, frame = dataset
    alive, peak = [0], [0]

    def tracked_open(path, channels, min_scale):
        image, scale = open_photo(path, channels, min_scale)
        alive[0] += 1
        peak[0] = max(peak[0], alive[0])
        weakref.finalize(image, lambda: alive.__setitem__(0, alive[0] - 1))
        return image, scale

    monkeypatch.setattr(cache, "open_photo", tracked_open)
    crop_rows(raw, frame, PREPROCESS, threads=threads)
    assert 1 <= peak[0] <= threads and alive[0] == 0


def test_crop_rows_is_the_cache_path(dataset, tmp_path):
    """What `maskflow predict` gets for a photo's boxes equals what training saw."""
    raw, annotations, frame = dataset
    build_cache(raw, annotations, SPEC, tmp_path / "c")
    train = frame[frame["split"] == "train"][["photo", "xmin", "ymin", "xmax", "ymax"]]
    fresh = crop_rows(raw, train, PREPROCESS)
    assert np.array_equal(fresh, np.load(tmp_path / "c" / "train_x.npy"))
    # Alone, a box may allow a smaller decode scale than with its photo's smaller boxes: the
    # crop is then the reduced-decode one, which agrees closely but not to the bit.
    for position in range(len(train)):
        one = crop_rows(raw, train.iloc[[position]], Preprocess.from_spec(PREPROCESS))
        assert np.abs(one[0].astype(float) - fresh[position]).mean() < 3.0


def test_array_formats_plug_in_with_one_registration(tmp_path, monkeypatch):
    loaded = []

    def load_arrays(raw_dir, annotations_spec, rows):
        loaded.append(annotations_spec)
        images = np.zeros((len(rows), 8, 8), dtype=np.uint8)
        images[:, :4] = 200  # top half bright
        return images

    monkeypatch.setitem(BUILDERS, "fake_arrays", from_arrays(load_arrays))
    rows = pd.DataFrame(
        {
            "row_id": ["d.npz:1", "d.npz:2", "d.npz:3"],
            "photo": "d.npz",
            "array_index": [0, 1, 2],
            "xmin": "",
            "ymin": "",
            "xmax": "",
            "ymax": "",
            "label": ["good", "none", "good"],
            "label_index": [0, 2, 0],
            "split": ["train", "train", "test"],
        }
    )
    rows.to_csv(tmp_path / "annotations.csv", index=False)
    spec = {
        "preprocess": {"size": 4, "channels": "rgb"},
        "annotations": {"format": "fake_arrays", "keys": {}},
        "classes": CLASSES,
    }
    build_cache(tmp_path, tmp_path / "annotations.csv", spec, tmp_path / "c")
    x = np.load(tmp_path / "c" / "train_x.npy")
    assert x.shape == (2, 4, 4, 3) and (x[:, :2] == 200).all() and (x[:, 2:] == 0).all()
    assert loaded[0] == {"format": "fake_arrays", "keys": {}}
    assert pd.read_csv(tmp_path / "c" / "train_index.csv")["row_id"].tolist() == ["d.npz:1", "d.npz:2"]


def test_registered_npz_format_goes_through_the_same_resize(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "digits.npz", image=images, label=np.array([0, 1, 2, 0, 1]))
    rows = pd.DataFrame(
        {
            "row_id": [f"digits.npz:{i + 1}" for i in (4, 0, 2)],
            "photo": "digits.npz",
            "array_index": [4, 0, 2],
            "xmin": "",
            "ymin": "",
            "xmax": "",
            "ymax": "",
            "label": ["bad", "good", "none"],
            "label_index": [1, 0, 2],
            "split": "train",
        }
    )
    rows.to_csv(tmp_path / "annotations.csv", index=False)
    spec = {
        "preprocess": {"size": 4, "channels": "gray"},
        "annotations": {"format": "npz", "files": {"all": "digits.npz"}},
        "classes": CLASSES,
    }
    build_cache(tmp_path, tmp_path / "annotations.csv", spec, tmp_path / "c")
    x = np.load(tmp_path / "c" / "train_x.npy")
    expected = [finish(images[i], Preprocess(size=4, channels="gray")) for i in (4, 0, 2)]
    assert x.shape == (3, 4, 4, 1) and np.array_equal(x, np.stack(expected))
    # 2 x 2 area averages of the 8 x 8 originals
    np.testing.assert_allclose(x[0, ..., 0], images[4].reshape(4, 2, 4, 2).mean(axis=(1, 3)), atol=0.51)


def test_unknown_format_and_mismatched_labels(dataset, tmp_path):
    raw, annotations, frame = dataset
    with pytest.raises(ConfigError, match="'pixel_magic' cannot be cached; registered formats: bbox_csv"):
        build_cache(raw, annotations, {**SPEC, "annotations": {"format": "pixel_magic"}}, tmp_path / "c")
    frame.loc[3, "label_index"] = 2
    frame.loc[3, "label"] = "bad"
    frame.to_csv(annotations, index=False)
    with pytest.raises(DataError, match=rf"row {frame.loc[3, 'row_id']}: label/label_index do not match"):
        build_cache(raw, annotations, SPEC, tmp_path / "c")


def test_bad_boxes_name_their_rows(dataset):
    raw, _, frame = dataset
    frame = frame.copy()
    frame.loc[1, "xmax"] = frame.loc[1, "xmin"]
    with pytest.raises(DataError, match=rf"row {frame.loc[1, 'row_id']}: box has zero or negative area"):
        crop_rows(raw, frame, PREPROCESS)
    outside = pd.DataFrame({"photo": ["images/a.jpg"], "xmin": [5000], "ymin": [0], "xmax": [5100], "ymax": [50]})
    with pytest.raises(DataError, match="a.jpg: annotation row 1: box lies wholly outside"):
        crop_rows(raw, outside, PREPROCESS)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maskflow", "cache", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_missing_photo_exits_2_naming_photo_and_rows(dataset, tmp_path):
    raw, annotations, frame = dataset
    victim = frame.loc[0, "photo"]
    (raw / victim).unlink()
    users = frame.loc[frame["photo"] == victim, "row_id"].tolist()
    process = run_cli(
        "--raw-dir",
        str(raw),
        "--annotations",
        str(annotations),
        "--spec",
        json.dumps(SPEC),
        "--out-dir",
        str(tmp_path / "c"),
        "--threads",
        "2",
    )
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    message = process.stderr.strip().splitlines()[-1]
    assert message.startswith("maskflow cache: error:") and f"{victim}: photo not found" in message
    assert all(row_id in message for row_id in users[:5])
    assert not (tmp_path / "c" / f"{frame.loc[0, 'split']}_x.npy").exists()  # nothing that looks finished


def test_cli_writes_cache_and_logs_counts(dataset, tmp_path):
    raw, annotations, frame = dataset
    process = run_cli(
        "--raw-dir",
        str(raw),
        "--annotations",
        str(annotations),
        "--spec",
        json.dumps(SPEC),
        "--out-dir",
        str(tmp_path / "c"),
        "--threads",
        "2",
    )
    assert process.returncode == 0, process.stderr
    n_train = int((frame["split"] == "train").sum())
    assert f"train: {n_train} crops from" in process.stderr and "crops/s" in process.stderr
    names = [f"{s}_{part}" for s in ("train", "val", "test") for part in ("x.npy", "y.npy", "index.csv")]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == sorted([*names, "checksums.json"])
    checksums = json.loads((tmp_path / "c" / "checksums.json").read_text())
    assert checksums == {name: sha256_file(tmp_path / "c" / name) for name in names}
