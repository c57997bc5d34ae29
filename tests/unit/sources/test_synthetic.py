"""The synthetic medical-mask generator: real JPEGs and CSVs written to a temporary folder.

.venv/bin/pytest tests/unit/sources/test_synthetic.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.data.photos import probe_photo
from maskflow.errors import ConfigError
from maskflow.sources import synthetic
from maskflow.sources.synthetic import COLUMNS, Face, generate

# The tiny test config's source: {kind: synthetic, photos: 24, seed: 3, min_width: 320, max_width: 480}
TINY = dict(photos=24, seed=3, min_width=320, max_width=480)


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(raw: Path) -> pd.DataFrame:
    frames = [pd.read_csv(raw / f"{split}.csv", encoding="utf-8").assign(split=split) for split in ("train", "test")]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    generate(raw, **TINY)
    return raw


def test_same_arguments_give_byte_identical_files(tmp_path):
    args = dict(photos=6, seed=11, min_width=200, max_width=400)
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args)
    first, second = _tree_digest(tmp_path / "a"), _tree_digest(tmp_path / "b")
    assert len(first) == 6 + 2 and first == second
    generate(tmp_path / "c", **{**args, "seed": 12})
    other = _tree_digest(tmp_path / "c")
    assert other["train.csv"] != first["train.csv"]
    assert not set(first.values()) & set(other.values())


def test_photos_rendered_by_several_workers_are_the_same_bytes(tmp_path, tiny):
    generate(tmp_path / "two", **TINY, workers=2)
    generate(tmp_path / "five", **TINY, workers=5)
    assert _tree_digest(tmp_path / "two") == _tree_digest(tiny) == _tree_digest(tmp_path / "five")


def test_no_temporary_files_are_left(tiny):
    leftovers = [p.name for p in tiny.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []


def test_csv_layout_and_split_by_photo(tiny):
    for split in ("train", "test"):
        header = (tiny / f"{split}.csv").read_bytes().decode("utf-8").splitlines()[0]
        assert header == ",".join(COLUMNS)
    rows = _rows(tiny)
    assert set(rows["label"]) <= {"good", "bad", "none"}
    for column in ("width", "height", "xmin", "ymin", "xmax", "ymax"):
        assert pd.api.types.is_integer_dtype(rows[column]), column
    per_photo = rows.groupby("filename")
    assert (per_photo["split"].nunique() == 1).all(), "a photo's faces must all be in one split"
    assert (per_photo[["width", "height"]].nunique() == 1).all().all()
    splits = per_photo["split"].first()
    assert len(splits) == TINY["photos"]
    assert (splits == "test").sum() == round(TINY["photos"] * 0.2)
    assert per_photo.size().between(1, 6).all()  # default faces=(1, 6)


def test_every_listed_photo_exists_decodes_and_matches_its_size(tiny):
    rows = _rows(tiny)
    on_disk = {p.name for p in (tiny / "images").iterdir()}
    assert on_disk == set(rows["filename"])
    for name, group in rows.groupby("filename"):
        path = tiny / "images" / name
        with Image.open(path) as image:
            assert image.format == "JPEG"
            image.load()
            size = image.size
        assert size == (group["width"].iloc[0], group["height"].iloc[0]), name
        assert probe_photo(path) == size  # the project's own decode path agrees
        assert TINY["min_width"] <= size[0] <= TINY["max_width"]
    assert rows.groupby("filename")["width"].first().nunique() > 5  # varied sizes
    aspects = rows.groupby("filename").apply(lambda g: g["height"].iloc[0] / g["width"].iloc[0], include_groups=False)
    assert aspects.min() < 0.8 and aspects.max() > 1.0  # landscape and portrait


def test_boxes_lie_inside_photos_and_do_not_overlap_much(tiny):
    rows = _rows(tiny)
    assert (rows["xmin"] >= 0).all() and (rows["ymin"] >= 0).all()
    assert (rows["xmax"] <= rows["width"]).all() and (rows["ymax"] <= rows["height"]).all()
    widths, heights = rows["xmax"] - rows["xmin"], rows["ymax"] - rows["ymin"]
    assert widths.min() >= 20 and widths.max() <= 2 * synthetic.MAX_FACE
    assert (heights > widths * 0.9).all()  # faces are taller than wide, up to a 14-degree tilt
    for _, group in rows.groupby("filename"):
        boxes = group[["xmin", "ymin", "xmax", "ymax"]].to_numpy(float)
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert synthetic._overlap(boxes[i], boxes[j]) < 0.2


def test_box_is_tight_around_the_drawn_face():
    image = np.zeros((200, 200, 3), np.float32)
    face = Face(cx=100.0, cy=100.0, a=30.0, b=38.0, angle=0.0)
    xmin, ymin, xmax, ymax = synthetic._render_face(np.random.default_rng(0), image, face, "good")
    assert abs((xmax - xmin) - 60) <= 2 and abs((ymax - ymin) - 76) <= 2
    covered = image.sum(axis=2) > 0
    # The face reaches the box's edges: top of the forehead, chin, both cheeks.
    assert covered[ymin + 1, 100] and covered[ymax - 2, 100]
    assert covered[100, xmin + 1] and covered[100, xmax - 2]


def test_names_are_long_non_ascii_or_spaced_and_openable(tiny):
    names = sorted({p.name for p in (tiny / "images").iterdir()})
    long_names = [n for n in names if len(n) > 150]
    non_ascii = [n for n in names if not n.isascii()]
    spaced = [n for n in names if " " in n]
    expected = round(0.1 * TINY["photos"])
    assert len(long_names) >= expected and len(spaced) >= expected and len(non_ascii) >= expected
    assert max(len(n.encode("utf-8")) for n in names) < 240
    for name in [*long_names, *non_ascii, *spaced]:
        with Image.open(tiny / "images" / name) as image:
            image.verify()
    # The CSV names the very same (UTF-8) strings.
    assert set(_rows(tiny)["filename"]) == set(names)


@pytest.mark.parametrize("mix", [None, {"good": 0.5, "bad": 0.3, "none": 0.2}, {"good": 1, "bad": 1}])
def test_class_mix_follows_the_request(tmp_path, mix):
    generate(tmp_path, photos=60, seed=5, min_width=128, max_width=192, faces=(2, 4), class_mix=mix)
    rows = _rows(tmp_path)
    wanted = pd.Series(mix or synthetic.DEFAULT_MIX, dtype=float).reindex(["good", "bad", "none"]).fillna(0)
    wanted /= wanted.sum()
    observed = rows["label"].value_counts(normalize=True).reindex(wanted.index).fillna(0)
    assert len(rows) >= 120
    assert (observed - wanted).abs().max() <= 1.5 / len(rows)


def test_default_data_has_every_class_and_several_faces_per_photo(tiny):
    rows = _rows(tiny)
    counts = rows["label"].value_counts()
    assert set(counts.index) == {"good", "bad", "none"}
    assert counts["good"] > counts["bad"] > counts["none"]
    assert rows.groupby("filename").size().mean() > 2


@pytest.mark.parametrize(
    "change, words",
    [
        ({"min_width": 500, "max_width": 400}, "min_width"),
        ({"faces": (0, 3)}, "faces"),
        ({"class_mix": {"good": 1, "masked": 1}}, "masked"),
        ({"class_mix": {"good": 0}}, "class_mix"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"photos": 0}, "photos"),
    ],
)
def test_bad_arguments_raise_config_errors(tmp_path, change, words):
    with pytest.raises(ConfigError, match=words):
        generate(tmp_path, **{"photos": 2, "seed": 1, **change})
    assert not any(tmp_path.iterdir())


def test_command_line_writes_a_data_set(tmp_path):
    synthetic.main([str(tmp_path), "--photos", "3", "--seed", "2", "--min-width", "160", "--max-width", "200"])
    rows = _rows(tmp_path)
    assert rows["filename"].nunique() == 3
