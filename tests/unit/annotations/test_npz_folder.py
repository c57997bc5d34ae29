"""Array and folder data sets: the npz reader (maskflow.annotations.npz) and the image-folder
reader (maskflow.annotations.image_folder), each alone and through the shared validation and
cache stages, on real files (scikit-learn's digits, PNG and JPEG photos)."""

import json

import numpy as np
import pytest
from PIL import Image

from maskflow.annotations import image_folder, npz
from maskflow.annotations.validate import parse_spec, validate
from maskflow.data import cache
from maskflow.data.crop import Preprocess, finish
from maskflow.errors import DataError
from maskflow.sources.sklearn_data import write_digits

DIGITS = [str(d) for d in range(10)]


def _validate(raw, annotations, classes):
    """`maskflow validate` as the rule calls it (the spec JSON gets the config defaults)."""
    return validate(raw, *parse_spec(json.dumps({"annotations": annotations, "classes": classes})))


def _cache(tmp_path, raw, table, spec):
    """Run the cache stage on validated rows (all as train) and return train_x."""
    annotations = tmp_path / "annotations.csv"
    table.assign(split="train").to_csv(annotations, index=False)
    cache.build_cache(raw, annotations, spec, tmp_path / "cache")
    return np.load(tmp_path / "cache" / "train_x.npy")


# ------------------------------------------------------------------------------------------ npz


def test_real_digits_validate_and_cache_through_the_shared_stages(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_digits(raw)
    stored = np.load(raw / "digits.npz")
    spec = {"format": "npz", "files": {"all": "digits.npz"}}

    table, report = _validate(raw, spec, DIGITS)

    assert len(table) == 1797 and report["rows_read"] == 1797 and report["rows_kept"] == 1797
    assert table["label"].tolist() == [str(d) for d in stored["label"]]
    assert table["label_index"].tolist() == stored["label"].tolist()
    assert table["row_id"].iloc[0] == "digits.npz:1" and table["array_index"].iloc[0] == 0
    assert (table["photo_width"] == 8).all() and (table["photo_height"] == 8).all()
    assert table["xmin"].isna().all() and (table["given_split"] == "").all()

    preprocess = {"size": 8, "channels": "gray"}
    x = _cache(tmp_path, raw, table, {"preprocess": preprocess, "annotations": spec, "classes": DIGITS})
    assert x.shape == (1797, 8, 8, 1)
    np.testing.assert_array_equal(x[..., 0], stored["image"])

    # a colour/size preprocess goes through the same finish() as photo crops
    x = _cache(tmp_path, raw, table.iloc[:5], {"preprocess": {"size": 16}, "annotations": spec, "classes": DIGITS})
    expected = [finish(image[..., None], Preprocess(size=16, channels="rgb")) for image in stored["image"][:5]]
    np.testing.assert_array_equal(x, np.stack(expected))


def test_float_images_string_labels_custom_keys_and_bad_images(tmp_path):
    rng = np.random.default_rng(0)
    unit = rng.random((6, 5, 4, 3))  # 0..1 floats, colour
    unit[2, 0, 0, 0] = np.nan
    unit[4, 1, 1, 1] = 1.7  # the rest of the file is 0..1, so this is out of range
    wide = rng.uniform(0, 255, (3, 5, 4, 3))  # a 0..255 float file
    names = np.array(["cat", "dog", "cat", "Cat", "dog", "bird"])
    np.savez(tmp_path / "train.npz", x=unit, y=names)
    np.savez(tmp_path / "test.npz", x=wide, y=np.array([1, 0, 1]))
    spec = {"format": "npz", "files": {"train": "train.npz", "test": "test.npz"}, "keys": {"image": "x", "label": "y"}}

    result = npz.read(tmp_path, spec, ["cat", "dog"])
    assert result.rows_read == 9
    assert [(i.file, i.row, i.reason) for i in result.issues] == [
        ("train.npz", 3, "non_numeric_pixels"),
        ("train.npz", 5, "pixel_out_of_range"),
    ]
    rows = result.rows
    assert rows["array_index"].tolist() == [0, 1, 3, 5, 0, 1, 2]
    assert rows["label"].tolist() == ["cat", "dog", "Cat", "bird", "dog", "cat", "dog"]
    assert rows["given_split"].tolist() == ["train"] * 4 + ["test"] * 3

    loaded = npz.load_arrays(tmp_path, spec, rows.astype(str))
    assert loaded.dtype == np.uint8 and loaded.shape == (7, 5, 4, 3)
    np.testing.assert_array_equal(loaded[:4], np.floor(unit[[0, 1, 3, 5]] * 255 + 0.5).astype(np.uint8))
    np.testing.assert_array_equal(loaded[4:], np.floor(wide + 0.5).astype(np.uint8))

    # through validation: 'Cat' is normalised, 'bird' is not a class
    table, report = _validate(tmp_path, spec, ["cat", "dog"])
    assert len(table) == 6 and report["counts"]["unknown_label"] == 1 and report["counts"]["label_normalized"] == 1


@pytest.mark.parametrize(
    "arrays, message",
    [
        (
            {"images": np.zeros((2, 8, 8), np.uint8), "label": np.zeros(2)},
            r"no image array 'image'; the file holds images, label",
        ),
        ({"image": np.zeros((2, 3, 8, 8), np.uint8), "label": np.zeros(2)}, r"channels first\?"),
        ({"image": np.zeros((2, 8, 8), np.uint8), "label": np.zeros(3)}, r"2 images but labels of shape \(3,\)"),
        ({"image": np.zeros((2, 8, 8), np.uint8), "label": np.array([None, 1], dtype=object)}, r"not Python objects"),
        ({"image": np.zeros((2, 8, 8), np.complex64), "label": np.zeros(2)}, r"dtype complex64"),
    ],
)
def test_unusable_files_stop_with_the_file_and_the_fix(tmp_path, arrays, message):
    np.savez(tmp_path / "data.npz", **arrays)
    with pytest.raises(DataError, match=f"data.npz: .*{message}"):
        npz.read(tmp_path, {"files": "data.npz"}, ["a", "b"])


def test_integer_types_out_of_range_and_bool_images(tmp_path):
    images = np.array([[[0, 255]], [[-1, 3]], [[300, 4]]], dtype=np.int16)
    np.savez(tmp_path / "a.npz", image=images, label=np.array([0, 1, 0]))
    np.savez(tmp_path / "b.npz", image=np.array([[[True, False]]]), label=np.array([1]))
    result = npz.read(tmp_path, {"files": "a.npz"}, ["a", "b"])
    assert [(i.row, i.reason) for i in result.issues] == [(2, "pixel_out_of_range"), (3, "pixel_out_of_range")]
    assert npz.load_arrays(tmp_path, {}, result.rows)[..., 0].tolist() == [[[0, 255]]]
    rows = npz.read(tmp_path, {"files": "b.npz"}, ["a", "b"]).rows
    assert npz.load_arrays(tmp_path, {}, rows)[..., 0].tolist() == [[[255, 0]]]


# --------------------------------------------------------------------------------- image folder


def _photo(path, size, colour, fmt="PNG", orientation=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(path, fmt, exif=exif)


@pytest.fixture
def folder(tmp_path):
    raw = tmp_path / "raw"
    _photo(raw / "photos/train/cat/001.png", (40, 30), (200, 10, 10))
    _photo(raw / "photos/train/cat/nested/002.jpg", (50, 20), (190, 20, 20), "JPEG", orientation=6)  # rotated
    _photo(raw / "photos/train/dog/ü long name é.png", (24, 24), (10, 10, 200))
    _photo(raw / "photos/train/Dog/003.png", (24, 24), (10, 10, 180))  # normalised to dog
    _photo(raw / "photos/train/bird/004.png", (24, 24), (10, 200, 10))  # not a class
    _photo(raw / "photos/test/dog/005.png", (32, 32), (20, 20, 220))
    (raw / "photos/train/cat/notes.txt").write_text("not a photo")
    (raw / "photos/train/cat/.DS_Store").write_bytes(b"\0\0")
    _photo(raw / "photos/train/loose.png", (10, 10), (0, 0, 0))
    return raw


FOLDER_SPEC = {"format": "image_folder", "files": {"train": "photos/train", "test": "photos/test"}}


def test_image_folder_rows_are_whole_photos_labelled_by_folder(folder):
    result = image_folder.read(folder, FOLDER_SPEC, ["cat", "dog"])
    rows = result.rows.set_index("photo")
    assert sorted(rows.index) == [
        "photos/test/dog/005.png",
        "photos/train/Dog/003.png",
        "photos/train/bird/004.png",
        "photos/train/cat/001.png",
        "photos/train/cat/nested/002.jpg",
        "photos/train/cat/notes.txt",
        "photos/train/dog/ü long name é.png",
    ]
    assert rows.loc["photos/train/cat/nested/002.jpg", ["label", "raw_xmax", "raw_ymax"]].tolist() == ["cat", 20, 50]
    assert rows.loc["photos/test/dog/005.png", "given_split"] == "test"
    assert [(i.file, i.reason) for i in result.issues] == [("photos/train/loose.png", "unknown_label")]


def test_image_folder_through_validation_and_the_photo_cache(folder, tmp_path):
    table, report = _validate(folder, FOLDER_SPEC, ["cat", "dog"])
    kept = table.set_index("photo")
    assert sorted(kept.index) == [
        "photos/test/dog/005.png",
        "photos/train/Dog/003.png",
        "photos/train/cat/001.png",
        "photos/train/cat/nested/002.jpg",
        "photos/train/dog/ü long name é.png",
    ]
    assert kept.loc["photos/train/cat/001.png", ["xmin", "ymin", "xmax", "ymax"]].tolist() == [0, 0, 40, 30]
    assert kept.loc["photos/train/Dog/003.png", "label"] == "dog"
    assert kept.loc["photos/train/cat/001.png", "row_id"] == "photos/train/cat/001.png:1"
    dropped = {(d["file"], d["reason"]) for d in report["dropped"]}
    assert dropped == {
        ("photos/train/loose.png", "unknown_label"),
        ("photos/train/bird/004.png", "unknown_label"),
        ("photos/train/cat/notes.txt", "corrupt_photo"),
    }
    assert report["counts"]["box_clipped"] == 0 and report["counts"]["size_mismatch"] == 0

    x = _cache(
        tmp_path, folder, table, {"preprocess": {"size": 8}, "annotations": FOLDER_SPEC, "classes": ["cat", "dog"]}
    )
    colours = x.reshape(len(x), -1, 3).mean(axis=1)
    labels = table["label"].to_numpy()
    assert (colours[labels == "cat", 0] > 150).all() and (colours[labels == "dog", 2] > 150).all()


def test_image_folder_without_class_folders_says_what_it_expected(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match="no photos in class folders"):
        image_folder.read(tmp_path, {"images": "photos"}, ["cat"])
    with pytest.raises(DataError, match="image folder not found"):
        image_folder.read(tmp_path, {"images": "elsewhere"}, ["cat"])
