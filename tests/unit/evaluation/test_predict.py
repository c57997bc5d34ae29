"""maskflow predict: new photos through the training crop code and the evaluation inference code.

The end-to-end test predicts the tiny workflow's test photos from their annotations and must
reproduce the workflow's own predictions_test.csv exactly (one preprocessing path)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.cli import main

from helpers import TINY_CONFIG
from helpers.evaluation import CLASSES, write_cache, write_checkpoint

TRAIN_PRIOR = {"good": 0.7, "bad": 0.2, "none": 0.1}
PREPROCESS = {"size": 12, "channels": "rgb", "margin": 0.1, "square": True}


def predict(*args: str) -> int:
    try:
        main(["predict", *args])
    except SystemExit as stop:
        return int(stop.code)
    return 0


@pytest.fixture
def photos(tmp_path):
    """Two real JPEG photos (one with a non-ASCII name) and a CSV of three boxes in Kaggle's naming."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "gesichter_ü.jpg"):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(folder / name, quality=92)
    table = pd.DataFrame(
        {
            "name": ["a.jpg", "a.jpg", "gesichter_ü.jpg"],
            "x1": [10, 60, 5],
            "y1": [10, 20, 5],
            "x2": [50, 120, 100],
            "y2": [50, 90, 110],
            "classname": ["good", "bad", "none"],
        }
    )
    table.to_csv(tmp_path / "new.csv", index=False)
    cache_dir = write_cache(tmp_path / "cache")
    checkpoint = write_checkpoint(tmp_path / "model" / "checkpoint.pt", cache_dir)
    # what `maskflow evaluate` writes beside it: the training prior of the prior-based decisions
    (checkpoint.parent / "metrics.json").write_text(json.dumps({"train_prior": TRAIN_PRIOR}))
    return tmp_path, folder, checkpoint


COLUMNS = json.dumps({"filename": "name", "xmin": "x1", "ymin": "y1", "xmax": "x2", "ymax": "y2", "label": "classname"})


def test_predictions_use_the_cache_crops_and_the_checkpoint(photos):
    from maskflow.data.cache import crop_rows
    from maskflow.inference import predict_proba
    from maskflow.models.checkpoint import load_model

    tmp_path, folder, checkpoint = photos
    out = tmp_path / "preds.csv"
    assert (
        predict(
            "--checkpoint",
            str(checkpoint),
            "--annotations",
            str(tmp_path / "new.csv"),
            "--images",
            str(folder),
            "--out",
            str(out),
            "--columns",
            COLUMNS,
            "--preprocess",
            json.dumps(PREPROCESS),
            "--overlays",
            str(tmp_path / "overlays"),
        )
        == 0
    )
    preds = pd.read_csv(out)
    assert preds["row"].tolist() == [1, 2, 3]
    assert preds["photo"].tolist() == ["a.jpg", "a.jpg", "gesichter_ü.jpg"]
    assert preds["label"].tolist() == ["good", "bad", "none"]
    rows = pd.DataFrame(
        {
            "photo": preds["photo"],
            "xmin": [10, 60, 5],
            "ymin": [10, 20, 5],
            "xmax": [50, 120, 100],
            "ymax": [50, 90, 110],
        }
    )
    model, ckpt = load_model(checkpoint, "cpu")
    expected = predict_proba(model, ckpt, crop_rows(folder, rows, PREPROCESS), "cpu")
    np.testing.assert_array_equal(preds[[f"p_{c}" for c in CLASSES]].to_numpy(), expected)
    assert preds["predicted"].tolist() == [CLASSES[k] for k in expected.argmax(1)]
    overlays = sorted(p.name for p in (tmp_path / "overlays").iterdir())
    assert overlays == ["a.png", "gesichter_ü.png"]
    with Image.open(tmp_path / "overlays" / "a.png") as image:
        assert image.format == "PNG" and image.width > 300


def test_without_box_columns_each_photo_is_one_crop(photos):
    tmp_path, folder, checkpoint = photos
    pd.DataFrame({"filename": ["a.jpg"]}).to_csv(tmp_path / "whole.csv", index=False)
    assert (
        predict(
            "--checkpoint",
            str(checkpoint),
            "--annotations",
            str(tmp_path / "whole.csv"),
            "--images",
            str(folder),
            "--out",
            str(tmp_path / "w.csv"),
            "--preprocess",
            json.dumps(PREPROCESS),
        )
        == 0
    )
    preds = pd.read_csv(tmp_path / "w.csv")
    assert preds[["xmin", "ymin", "xmax", "ymax"]].values.tolist() == [[0, 0, 160, 120]]


def predict_table(tmp_path, folder, checkpoint, table: pd.DataFrame, *extra: str) -> int:
    table.to_csv(tmp_path / "bad.csv", index=False)
    return predict(
        "--checkpoint",
        str(checkpoint),
        "--annotations",
        str(tmp_path / "bad.csv"),
        "--images",
        str(folder),
        "--out",
        str(tmp_path / "p.csv"),
        "--columns",
        COLUMNS,
        "--preprocess",
        json.dumps(PREPROCESS),
        *extra,
    )


# What a user's table gets wrong in one row -> (the row's cells, reason as in quality.json, detail fragment)
BAD_ROWS = {
    "box outside the photo": ({"x1": 300, "x2": 350}, "box_outside", "entirely outside"),
    "missing photo": ({"name": "missing.jpg"}, "missing_photo", "missing.jpg: no such file in the --images folder "),
    "a folder named like a photo": ({"name": "a_directory.jpg"}, "missing_photo", "a_directory.jpg: is a folder"),
    "corrupt photo": ({"name": "broken.jpg"}, "corrupt_photo", "broken.jpg: not an image"),
    "coordinate not a number": ({"x1": "ten"}, "nan_coordinate", "xmin 'ten' is not a finite number"),
    "inverted box": ({"x1": 90, "x2": 20}, "inverted_box", "xmin > xmax"),
    "empty photo cell": ({"name": ""}, "missing_photo", "names no photo"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_is_skipped_with_its_reason_and_the_others_predicted(photos, capsys, case):
    tmp_path, folder, checkpoint = photos
    (folder / "a_directory.jpg").mkdir()
    (folder / "broken.jpg").write_text("<html>not a photo</html>")
    cells, reason, detail = BAD_ROWS[case]
    table = pd.read_csv(tmp_path / "new.csv", dtype=str, keep_default_na=False)
    for column, value in cells.items():
        table.loc[1, column] = str(value)  # the second data row: line 3
    assert predict_table(tmp_path, folder, checkpoint, table) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if "rows skipped" in line]
    assert len(said) == 1 and f"1 of 3 rows skipped ({reason} 1;" in said[0], err
    assert "p_skipped.csv" in said[0]
    skipped = pd.read_csv(tmp_path / "p_skipped.csv", keep_default_na=False)
    assert skipped[["row", "line", "reason"]].values.tolist() == [[2, 3, reason]]
    assert detail in skipped["detail"].iloc[0], skipped["detail"].iloc[0]
    preds = pd.read_csv(tmp_path / "p.csv")
    assert preds["row"].tolist() == [1, 3]
    # The good rows get what they get without the bad one.
    assert predict_table(tmp_path, folder, checkpoint, table.drop(index=1)) == 0
    alone = pd.read_csv(tmp_path / "p.csv")
    probabilities = [f"p_{c}" for c in CLASSES]
    np.testing.assert_array_equal(preds[probabilities], alone[probabilities])


def test_nothing_skipped_leaves_a_header_only_list(photos, capsys):
    tmp_path, folder, checkpoint = photos
    assert predict_table(tmp_path, folder, checkpoint, pd.read_csv(tmp_path / "new.csv")) == 0
    assert (tmp_path / "p_skipped.csv").read_text().strip() == "row,line,photo,reason,detail"
    assert "skipped" not in capsys.readouterr().err


def test_strict_or_nothing_left_to_predict_exits_2(photos, capsys):
    tmp_path, folder, checkpoint = photos
    table = pd.read_csv(tmp_path / "new.csv")
    outside = table.assign(x1=[10, 300, 5], x2=[50, 350, 100])
    assert predict_table(tmp_path, folder, checkpoint, outside, "--strict") == 2
    err = capsys.readouterr().err
    assert "1 of 3 rows skipped (box_outside 1; first: row 2, line 3" in err.strip().splitlines()[-1]
    assert "Traceback" not in err and not (tmp_path / "p.csv").exists()
    assert pd.read_csv(tmp_path / "p_skipped.csv")["reason"].tolist() == ["box_outside"]
    assert predict_table(tmp_path, folder, checkpoint, table.assign(name="missing.jpg")) == 2
    err = capsys.readouterr().err
    assert "no row could be predicted: 3 of 3 rows skipped (missing_photo 3;" in err.strip().splitlines()[-1]
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.drop(columns=["y2"]), "y2 missing"),
        (lambda t: t.drop(columns=["name"]), "no column 'name' naming the photos"),
    ],
)
def test_a_bad_table_names_the_problem(photos, capsys, change, message):
    tmp_path, folder, checkpoint = photos
    code = predict_table(tmp_path, folder, checkpoint, change(pd.read_csv(tmp_path / "new.csv")))
    assert code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not (tmp_path / "p.csv").exists()


def test_crop_settings_must_be_known_and_match_the_checkpoint(photos, capsys):
    tmp_path, folder, checkpoint = photos
    common = [
        "--checkpoint",
        str(checkpoint),
        "--annotations",
        str(tmp_path / "new.csv"),
        "--images",
        str(folder),
        "--out",
        str(tmp_path / "p.csv"),
        "--columns",
        COLUMNS,
    ]
    assert predict(*common) == 2
    assert "--config" in capsys.readouterr().err
    assert predict(*common, "--preprocess", json.dumps({**PREPROCESS, "size": 32})) == 2
    assert "trained on 12px" in capsys.readouterr().err


@pytest.mark.workflow
def test_predicting_the_test_photos_reproduces_the_workflow_evaluation(tiny_run, tmp_path):
    annotations = pd.read_csv(tiny_run / "results/masks/data/annotations.csv", keep_default_na=False)
    test_rows = annotations[annotations["split"] == "test"]
    # What a user has: photo names and boxes, in a CSV of their own naming.
    test_rows.rename(columns={"photo": "file"}).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "preds.csv"
    checkpoint = tiny_run / "results/masks/models/cnn_aug/checkpoint.pt"
    assert (
        predict(
            "--checkpoint",
            str(checkpoint),
            "--annotations",
            str(tmp_path / "new.csv"),
            "--images",
            str(tiny_run / "resources/masks/raw"),
            "--out",
            str(out),
            "--columns",
            json.dumps({"filename": "file"}),
            "--config",
            str(TINY_CONFIG),
        )
        == 0
    )
    preds = pd.read_csv(out, keep_default_na=False)
    workflow = pd.read_csv(tiny_run / "results/masks/models/cnn_aug/predictions_test.csv", keep_default_na=False)
    assert len(preds) == len(workflow) > 0
    assert preds["predicted"].tolist() == workflow["predicted"].tolist()
    columns = [f"p_{c}" for c in ("good", "bad", "none")]
    np.testing.assert_array_equal(preds[columns].to_numpy(), workflow[columns].to_numpy())
