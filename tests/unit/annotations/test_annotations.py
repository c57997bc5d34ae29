"""`maskflow validate` on box tables (bbox_csv): every quality reason, table quirks, the CLI.

Real files throughout: photos are JPEG/PNG written with Pillow, tables are CSV on disk.
"""

from __future__ import annotations

import json
import unicodedata

import pandas as pd
import pytest
from snakemake.utils import validate as validate_schema

from maskflow.annotations import checks
from maskflow.annotations.labels import LabelMatcher
from maskflow.annotations.quality import REASONS, QualityLog
from maskflow.annotations.records import make_rows
from maskflow.annotations.validate import COLUMNS, output_table, parse_spec, validate
from maskflow.cli import main
from maskflow.errors import ConfigError, DataError

from helpers import ROOT
from helpers.bad_inputs import HOMEWORK_HEADER, bad_masks_dataset, write_photo, write_table
from helpers.cli import validate_args

CLASSES = ["good", "bad", "none"]
SCHEMA = ROOT / "workflow" / "schemas" / "annotations.schema.yaml"
HOMEWORK = {"format": "bbox_csv", "files": {"train": "train.csv", "test": "test.csv"}, "images": "images"}


def run_validate(raw, annotations=None, classes=CLASSES, **overrides):
    settings, classes = parse_spec(
        json.dumps({"annotations": {**(annotations or HOMEWORK), **overrides}, "classes": classes})
    )
    return validate(raw, settings, classes, dataset="test")


def rows_of(report, reason):
    return [i["row"] for i in report["dropped"] + report["repaired"] if i["reason"] == reason]


@pytest.fixture
def one_photo(tmp_path):
    """raw/ with images/a.jpg (64x48) and a helper writing raw/boxes.csv."""
    raw = tmp_path / "raw"
    write_photo(raw / "images" / "a.jpg", (64, 48))

    def table(header, rows, **kwargs):
        write_table(raw / "boxes.csv", header, rows, **kwargs)
        return raw

    return table


def test_every_reason_is_reported_with_its_line(tmp_path):
    raw = tmp_path / "raw"
    expected = bad_masks_dataset(raw)
    table, report = run_validate(raw)
    for reason, lines in expected.items():
        if reason != "kept":
            assert rows_of(report, reason) == lines, reason
            assert report["counts"][reason] == len(lines)
    kept = table[table.source_file == "train.csv"].source_row.tolist()
    assert kept == expected["kept"]
    assert report["rows_read"] == 17 and report["rows_kept"] == len(table) == 6
    assert list(table.columns) == list(COLUMNS)
    by_line = table.set_index("row_id")
    assert by_line.loc["train.csv:3", "label"] == "bad"  # ' Bad' normalised
    assert tuple(by_line.loc["train.csv:4", ["xmin", "ymin", "xmax", "ymax"]]) == (0, 0, 10, 10)  # clipped
    assert tuple(by_line.loc["train.csv:9", ["xmin", "ymin", "xmax", "ymax"]]) == (2, 2, 21, 30)  # half up
    assert tuple(by_line.loc["train.csv:15", ["photo_width", "photo_height"]]) == (50, 50)  # the photo wins
    assert set(table.given_split) == {"train", "test"}
    assert set(report["counts"]) == set(REASONS)


def test_cli_writes_rows_that_match_the_schema_and_the_quality_report(tmp_path):
    raw = tmp_path / "resources" / "masks" / "raw"
    bad_masks_dataset(raw)
    out, quality = tmp_path / "validated.csv", tmp_path / "quality.json"
    spec = json.dumps({"annotations": HOMEWORK, "classes": CLASSES})
    main(["validate", "--raw-dir", str(raw), "--spec", spec, "--out", str(out), "--quality", str(quality)])
    written = pd.read_csv(out)
    validate_schema(written, str(SCHEMA))
    assert written.row_id.is_unique and written.array_index.isna().all()
    report = json.loads(quality.read_text())
    assert report["dataset"] == "masks"  # from resources/<dataset>/raw
    assert report["rows_kept"] == len(written)
    assert {"file", "row", "reason", "detail"} == set(report["dropped"][0])


def test_a_user_mistake_exits_2_with_a_message_naming_file_and_columns(tmp_path, one_photo, capsys):
    raw = one_photo(("name", "classname", "x1", "x2", "y1", "y2"), [("a.jpg", "good", 1, 2, 3, 4)])
    spec = {"annotations": {"format": "bbox_csv", "files": "boxes.csv", "images": "images"}, "classes": CLASSES}
    with pytest.raises(SystemExit) as exit_info:
        main(validate_args(raw, spec, tmp_path / "v.csv", tmp_path / "q.json"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "boxes.csv: missing column 'filename'" in err and "'xmin'" in err
    assert "the file has columns: name, classname, x1, x2, y1, y2" in err
    assert "Traceback" not in err
    assert not (tmp_path / "v.csv").exists()


def test_a_missing_mapped_optional_column_is_an_error_but_extra_columns_are_ignored(one_photo):
    raw = one_photo((*HOMEWORK_HEADER, "comment", "annotator"), [("a.jpg", 64, 48, "good", 1, 2, 30, 40, "ok", "me")])
    table, _ = run_validate(raw, {"format": "bbox_csv", "files": "boxes.csv", "images": "images"})
    assert len(table) == 1 and "comment" not in table.columns
    with pytest.raises(DataError, match=r"missing column 'set' \(maskflow's split\)"):
        run_validate(raw, {"format": "bbox_csv", "files": "boxes.csv", "images": "images", "columns": {"split": "set"}})


def test_a_bom_crlf_and_spaces_in_the_header_are_harmless(one_photo):
    header = ("filename", " label", " xmin", "ymin ", "xmax", "ymax")
    raw = one_photo(header, [("a.jpg", "good", 1, 2, 30, 40)], bom=True, newline="\r\n")
    table, report = run_validate(raw, {"format": "bbox_csv", "files": {"all": "boxes.csv"}, "images": "images"})
    assert table.loc[0, "photo"] == "images/a.jpg" and table.loc[0, "given_split"] == ""
    assert report["rows_kept"] == 1


def test_blank_lines_do_not_shift_line_numbers(tmp_path, one_photo):
    raw = one_photo(("filename", "label", "xmin", "ymin", "xmax", "ymax"), [("a.jpg", "good", 1, 2, 30, 40)])
    text = (raw / "boxes.csv").read_text()
    (raw / "boxes.csv").write_text(text + "\n\na.jpg,cat,1,2,3,4\n")
    _, report = run_validate(raw, {"format": "bbox_csv", "files": "boxes.csv", "images": "images"})
    assert report["rows_read"] == 2
    assert rows_of(report, "unknown_label") == [5]  # header 1, row 2, blank 3 and 4, then line 5


def test_text_coordinates_and_infinity_are_nan_coordinates(one_photo):
    header = ("filename", "label", "xmin", "ymin", "xmax", "ymax")
    raw = one_photo(
        header,
        [("a.jpg", "good", "abc", 2, 30, 40), ("a.jpg", "good", 1, "inf", 30, 40), ("a.jpg", "good", 1, 2, "NaN", 40)],
    )
    with pytest.raises(DataError) as error:
        run_validate(raw, {"format": "bbox_csv", "files": "boxes.csv", "images": "images"})
    message = str(error.value)
    assert "boxes.csv: no usable rows" in message and "nan_coordinate 3" in message
    assert "'abc' is not a finite number" in message


def test_label_case_normalize_repairs_and_strict_rejects_with_a_hint(one_photo):
    header = ("filename", "label", "xmin", "ymin", "xmax", "ymax")
    raw = one_photo(
        header,
        [("a.jpg", " GOOD ", 1, 2, 30, 40), ("a.jpg", "bad", 2, 2, 30, 40), ("a.jpg", "with_mask", 3, 2, 30, 40)],
    )
    spec = {"format": "bbox_csv", "files": "boxes.csv", "images": "images"}
    table, report = run_validate(raw, spec)
    assert table.label.tolist() == ["good", "bad"] and table.label_index.tolist() == [0, 1]
    assert rows_of(report, "label_normalized") == [2] and rows_of(report, "unknown_label") == [4]
    table, report = run_validate(raw, spec, label_case="strict", rename={"with_mask": "good"})
    assert table.label.tolist() == ["bad", "good"]
    [unknown] = report["dropped"]
    assert unknown["row"] == 2 and "label_case: normalize would read it as 'good'" in unknown["detail"]


def test_empty_and_header_only_files_name_the_file(tmp_path, one_photo):
    raw = one_photo(("filename", "label", "xmin", "ymin", "xmax", "ymax"), [])
    with pytest.raises(DataError, match="boxes.csv: the file has a header .* but no rows"):
        run_validate(raw, {"format": "bbox_csv", "files": "boxes.csv", "images": "images"})
    (raw / "boxes.csv").write_bytes(b"")
    with pytest.raises(DataError, match="boxes.csv: the file is empty"):
        run_validate(raw, {"format": "bbox_csv", "files": "boxes.csv", "images": "images"})
    with pytest.raises(DataError, match="annotation file not found .*boxes.csv"):
        run_validate(raw, {"format": "bbox_csv", "files": "nope.csv", "images": "images"})


def test_zero_valid_rows_names_the_files_and_the_reasons(tmp_path):
    raw = tmp_path / "raw"
    write_table(raw / "train.csv", HOMEWORK_HEADER, [("gone.jpg", 10, 10, "good", 1, 1, 5, 5)])
    write_table(raw / "test.csv", HOMEWORK_HEADER, [("gone.jpg", 10, 10, "cat", 1, 1, 5, 5)])
    with pytest.raises(DataError) as error:
        run_validate(raw)
    message = str(error.value)
    assert message.startswith("train.csv, test.csv: no usable rows")
    assert "missing_photo 2" in message and "images/gone.jpg" in message


def test_each_photo_is_probed_once_however_many_boxes(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    write_photo(raw / "images" / "a.jpg", (64, 48))
    write_photo(raw / "images" / "b.png", (64, 48))
    rows = [(name, 64, 48, "good", i, i, i + 10, i + 10) for name in ("a.jpg", "b.png") for i in range(20)]
    write_table(raw / "train.csv", HOMEWORK_HEADER, rows)
    write_table(raw / "test.csv", HOMEWORK_HEADER, rows[:3])
    probed = []
    real = checks.probe_photo
    monkeypatch.setattr(checks, "probe_photo", lambda path: probed.append(path) or real(path))
    table, report = run_validate(raw)
    assert len(probed) == 2
    assert len(table) == 40 and report["counts"]["duplicate_row"] == 3


def test_long_non_ascii_names_with_spaces_survive_in_either_unicode_form(tmp_path):
    raw = tmp_path / "raw"
    name = "Фото с маской — é " + "x" * 150 + ".jpg"
    write_photo(raw / "images" / unicodedata.normalize("NFD", name), (64, 48))  # as macOS stores it
    write_photo(raw / "images" / "0001.png", (64, 48))
    rows = [
        (unicodedata.normalize("NFC", name), 64, 48, "good", 1, 2, 30, 40),
        ("0001.png", 64, 48, "bad", 1, 2, 30, 40),
    ]
    write_table(raw / "train.csv", HOMEWORK_HEADER, rows)
    write_table(raw / "test.csv", HOMEWORK_HEADER, rows[1:])
    table, _ = run_validate(raw)
    assert (raw / table.photo[0]).is_file()  # the name as it exists on disk
    assert table.photo[1] == "images/0001.png"  # not read as the number 1


def test_size_mismatch_from_exif_rotation_says_so(tmp_path):
    raw = tmp_path / "raw"
    write_photo(raw / "images" / "phone.jpg", (64, 48), exif_orientation=6)  # shown as 48x64
    write_table(raw / "train.csv", HOMEWORK_HEADER, [("phone.jpg", 64, 48, "good", 1, 2, 40, 60)])
    write_table(raw / "test.csv", HOMEWORK_HEADER, [("phone.jpg", 48, 64, "bad", 1, 2, 40, 30)])
    table, report = run_validate(raw)
    assert table.photo_width.tolist() == [48, 48] and table.photo_height.tolist() == [64, 64]
    [mismatch] = report["repaired"]
    assert (mismatch["file"], mismatch["row"]) == ("train.csv", 2)
    assert "64x48, the photo is 48x64 (swapped: EXIF orientation?)" in mismatch["detail"]


KAGGLE = ("name", "x1", "x2", "y1", "y2", "classname")
KAGGLE_SPEC = {
    "format": "bbox_csv",
    "files": "train.csv",
    "images": "images",
    "columns": {"filename": "name", "label": "classname", "xmin": "x1", "ymin": "x2", "xmax": "y1", "ymax": "y2"},
}
# Boxes on the right of a wide photo: read the wrong way, x values land beyond the height or invert.
TRUE_BOXES = [(120, 10, 160, 50), (100, 5, 150, 40), (170, 20, 195, 55)]


@pytest.mark.parametrize(
    ("truth", "cells"),
    [
        ("xyxy", lambda b: (b[0], b[1], b[2], b[3])),  # header says x1,x2,y1,y2 but holds xmin,ymin,xmax,ymax
        ("x1x2y1y2", lambda b: (b[0], b[2], b[1], b[3])),  # the header is right
    ],
)
def test_kaggle_layout_box_order_given_and_auto(tmp_path, truth, cells):
    raw = tmp_path / "raw"
    write_photo(raw / "images" / "wide.png", (200, 60))
    write_table(raw / "train.csv", KAGGLE, [("wide.png", *cells(b), "face_with_mask") for b in TRUE_BOXES])
    rename = {"face_with_mask": "good"}
    for order in (truth, "auto"):
        table, report = run_validate(raw, KAGGLE_SPEC, box_order=order, rename=rename)
        assert [tuple(r) for r in table[["xmin", "ymin", "xmax", "ymax"]].itertuples(index=False)] == TRUE_BOXES
    assert report["box_order"]["train.csv"]["chosen"] == truth  # auto says what it chose, and why
    assert report["box_order"]["train.csv"]["boxes_inside_photo"][truth] == 3
    wrong = "x1x2y1y2" if truth == "xyxy" else "xyxy"
    with pytest.raises(DataError, match="inverted_box 3"):  # the wrong reading is caught, not guessed
        run_validate(raw, KAGGLE_SPEC, box_order=wrong, rename=rename)


def test_split_column_with_split_values_and_an_unknown_value(one_photo):
    header = ("filename", "label", "xmin", "ymin", "xmax", "ymax", "Usage")
    rows = [
        ("a.jpg", "good", i, 2, 30, 40, usage)
        for i, usage in enumerate(("Training", "PublicTest", "PrivateTest", None))
    ]
    raw = one_photo(header, rows)
    spec = {"format": "bbox_csv", "files": "boxes.csv", "images": "images", "columns": {"split": "Usage"}}
    table, _ = run_validate(raw, spec, split_values={"PublicTest": "val", "PrivateTest": "test"})
    assert table.given_split.tolist() == ["train", "val", "test", ""]
    with pytest.raises(DataError, match="boxes.csv row 3: split value 'PublicTest' is not train/val/test"):
        run_validate(raw, spec)


def test_config_mistakes_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="has no reader"):
        run_validate(tmp_path, {"format": "hdf5", "files": "x"})
    with pytest.raises(ConfigError, match="box_order"):
        run_validate(tmp_path, HOMEWORK, box_order="yxyx")
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_spec("{annotations:")


def test_array_rows_skip_photo_and_box_checks_but_not_labels(tmp_path):
    """What a reader of an array format (FER2013 pixels, npz) hands over: no box, no photo to probe."""
    rows = make_rows(
        {
            "source_file": "fer.csv",
            "source_row": [2, 3, 4],
            "photo": "fer.csv",
            "array_index": [0, 1, 2],
            "label": ["Good", "cat", "bad"],
            "table_width": 48,
            "table_height": 48,
            "given_split": ["train", "test", "val"],
        },
        3,
    )
    quality = QualityLog()
    ctx = checks.Context(raw_dir=tmp_path, labels=LabelMatcher(CLASSES), box_order="xyxy", quality=quality)
    table = output_table(checks.run_checks(rows, ctx))
    assert table.row_id.tolist() == ["fer.csv:2", "fer.csv:4"] and table.array_index.tolist() == [0, 2]
    assert table.photo_width.tolist() == [48, 48] and table[["xmin", "ymax"]].isna().all().all()
    assert [(i.row, i.reason) for i in quality.issues] == [(2, "label_normalized"), (3, "unknown_label")]
