"""`maskflow validate` on Pascal VOC XML (voc_xml): real XML files and real photos."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from maskflow.annotations.validate import parse_spec, validate
from maskflow.cli import main
from maskflow.errors import DataError

from helpers.bad_inputs import write_photo, write_voc

CLASSES = ["with_mask", "mask_weared_incorrect", "without_mask"]


def run_validate(raw, **annotations):
    spec = {
        "annotations": {"format": "voc_xml", "files": "annotations", "images": "images", **annotations},
        "classes": CLASSES,
    }
    settings, classes = parse_spec(json.dumps(spec))
    return validate(raw, settings, classes, dataset="voc")


@pytest.fixture
def raw(tmp_path):
    """Two good XML files (one in a subfolder), one broken, one naming no photo, one without objects."""
    raw = tmp_path / "raw"
    write_photo(raw / "images" / "maksssksksss0.png", (80, 60))
    write_photo(raw / "images" / "sub dir" / "été 1.jpg", (50, 40))
    ann = raw / "annotations"
    write_voc(
        ann / "maksssksksss0.xml",
        "maksssksksss0.png",
        (80, 60),
        [("with_mask", (10, 10, 30, 30)), ("Without_Mask", (40, 5, 90, 50)), ("with_mask", (10, 10, 30, 30))],
    )
    write_voc(ann / "deeper" / "ete.xml", "sub dir/été 1.jpg", (0, 0), [("mask_weared_incorrect", (1, 2, 20, 20))])
    (ann / "broken.xml").write_text("<annotation><filename>x.png</filename><object>", encoding="utf-8")
    write_voc(ann / "nameless.xml", None, (10, 10), [("with_mask", (1, 1, 5, 5))])
    write_voc(ann / "empty.xml", "maksssksksss0.png", (80, 60), [])
    return raw


def test_voc_objects_become_rows_numbered_by_object_index(raw):
    table, report = run_validate(raw)
    assert table.row_id.tolist() == [
        "annotations/deeper/ete.xml:1",
        "annotations/maksssksksss0.xml:1",
        "annotations/maksssksksss0.xml:2",
    ]
    assert table.photo.tolist() == ["images/sub dir/été 1.jpg"] + ["images/maksssksksss0.png"] * 2
    assert table.label.tolist() == ["mask_weared_incorrect", "with_mask", "without_mask"]
    assert tuple(table.loc[2, ["xmin", "ymin", "xmax", "ymax"]]) == (40, 5, 80, 50)  # clipped to 80 wide
    assert report["rows_read"] == 4  # objects in the readable files
    reasons = {(i["file"], i["row"], i["reason"]) for i in report["dropped"] + report["repaired"]}
    assert reasons == {
        ("annotations/broken.xml", None, "unreadable_annotation"),
        ("annotations/nameless.xml", None, "unreadable_annotation"),
        ("annotations/maksssksksss0.xml", 2, "label_normalized"),
        ("annotations/maksssksksss0.xml", 2, "box_clipped"),
        ("annotations/maksssksksss0.xml", 3, "duplicate_row"),
    }  # <size> 0x0 is no claim, so no size_mismatch for ete.xml


def test_voc_split_folders_give_the_split_and_the_cli_writes_the_outputs(tmp_path):
    raw = tmp_path / "raw"
    for split, size in (("train", (40, 40)), ("test", (30, 30))):
        write_photo(raw / "images" / f"{split}.png", size)
        write_voc(raw / "ann" / split / f"{split}.xml", f"{split}.png", (99, 99), [("with_mask", (1, 1, 20, 20))])
    spec = {
        "annotations": {"format": "voc_xml", "files": {"train": "ann/train", "test": "ann/test"}, "images": "images"},
        "classes": CLASSES,
    }
    out, quality = tmp_path / "validated.csv", tmp_path / "quality.json"
    main(["validate", "--raw-dir", str(raw), "--spec", json.dumps(spec), "--out", str(out), "--quality", str(quality)])
    table = pd.read_csv(out, keep_default_na=False)
    assert table.given_split.tolist() == ["train", "test"]
    report = json.loads(quality.read_text())
    assert (
        report["counts"]["size_mismatch"] == 2
        and "the table says 99x99, the photo is 40x40" in report["repaired"][0]["detail"]
    )


def test_a_folder_without_xml_is_an_error_naming_it(tmp_path):
    (tmp_path / "raw" / "annotations").mkdir(parents=True)
    with pytest.raises(DataError, match="annotations: no .xml files"):
        run_validate(tmp_path / "raw")
    with pytest.raises(DataError, match="annotation folder not found"):
        run_validate(tmp_path / "raw", files="xml")


def test_only_unreadable_files_is_no_usable_rows(tmp_path):
    raw = tmp_path / "raw"
    (raw / "annotations").mkdir(parents=True)
    (raw / "annotations" / "a.xml").write_text("not xml at all")
    with pytest.raises(DataError, match="(?s)annotations/a.xml: no usable rows.*unreadable_annotation 1"):
        run_validate(raw)
