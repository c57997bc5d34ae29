"""Issue 14, item 3: what a new user's inputs get told.

- a `;`-separated annotation table (Excel's CSV in many locales) is read with its delimiter, and
  the log says so; a header that still packs every name into one column is named as such;
- a folder named like a photo (`a_directory.jpg`) is reported as a folder, not as "no such file",
  by `maskflow validate` (quality.json) and by maskflow.data.photos.
"""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from PIL import Image

from maskflow.annotations.tables import map_columns
from maskflow.cli import main
from maskflow.data.photos import load_photo, probe_photo
from maskflow.errors import DataError

from helpers.cli import validate_args

CLASSES = ["good", "bad", "none"]


def validate(raw, tmp_path, capsys) -> tuple[int, str]:
    spec = {"annotations": {"format": "bbox_csv", "files": "boxes.csv", "images": "images"}, "classes": CLASSES}
    try:
        main(validate_args(raw, spec, tmp_path / "v.csv", tmp_path / "q.json"))
        status = 0
    except SystemExit as stop:
        status = int(stop.code)
    return status, capsys.readouterr().err


@pytest.fixture
def raw(tmp_path):
    (tmp_path / "raw" / "images").mkdir(parents=True)
    Image.new("RGB", (64, 48), (0, 128, 0)).save(tmp_path / "raw" / "images" / "a.jpg")
    return tmp_path / "raw"


def test_a_semicolon_separated_table_is_read_and_the_log_says_so(raw, tmp_path, capsys, caplog):
    lines = [
        "filename;width;height;label;xmin;ymin;xmax;ymax",
        "a.jpg;64;48;good;1;2;30;40",
        "a.jpg;64;48;bad;5;5;20,5;20",
    ]
    (raw / "boxes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="maskflow"):
        status, err = validate(raw, tmp_path, capsys)
    assert status == 0, err
    kept = pd.read_csv(tmp_path / "v.csv")
    assert kept["label"].tolist() == ["good"]  # the decimal comma is a bad coordinate, not a new column
    report = json.loads((tmp_path / "q.json").read_text())
    assert [(r["row"], r["reason"]) for r in report["dropped"]] == [(3, "nan_coordinate")]
    said = [r.getMessage() for r in caplog.records if "-separated" in r.getMessage() and "header" in r.getMessage()]
    assert said == ["boxes.csv: the header has no comma but ';': read as ';'-separated"]


def test_a_header_packed_into_one_column_is_named_as_another_delimiter():
    table = pd.DataFrame({"source_row": [2], "filename;width;height;label": ["a.jpg;64;48;good"]})
    with pytest.raises(DataError) as error:
        map_columns(table, "boxes.csv", {}, ("filename", "label"), ())
    message = str(error.value)
    assert message.startswith("boxes.csv: missing column 'filename'")
    assert "the file looks ';'-separated: save it with commas" in message


def test_a_folder_named_like_a_photo_is_called_a_folder(raw, tmp_path, capsys):
    (raw / "images" / "a_directory.jpg").mkdir()
    (raw / "boxes.csv").write_text(
        "filename,label,xmin,ymin,xmax,ymax\na.jpg,good,1,2,30,40\na_directory.jpg,good,1,2,30,40\n", encoding="utf-8"
    )
    status, err = validate(raw, tmp_path, capsys)
    assert status == 0, err
    dropped = json.loads((tmp_path / "q.json").read_text())["dropped"]
    assert [(r["row"], r["reason"], r["detail"]) for r in dropped] == [
        (3, "missing_photo", "images/a_directory.jpg: is a folder, not a photo file")
    ]
    for read in (load_photo, probe_photo):
        with pytest.raises(DataError, match=r"a_directory.jpg: is a folder, not a photo file$"):
            read(raw / "images" / "a_directory.jpg")
