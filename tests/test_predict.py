"""maskflow predict: new photos through the training crop code and the evaluation inference code.

The end-to-end test predicts the tiny workflow's test photos from their annotations and must
reproduce the workflow's own predictions_test.csv exactly (one preprocessing path)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import TINY_CONFIG
from maskflow.cli import main
from test_evaluate import CLASSES, write_cache, write_checkpoint

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


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.assign(name=["a.jpg", "missing.jpg", "a.jpg"]), "missing.jpg"),
        (lambda t: t.assign(x1=["10", "ten", "5"]), "row 2: x1 = 'ten'"),
        (lambda t: t.drop(columns=["y2"]), "y2 missing"),
    ],
)
def test_bad_requests_name_the_problem(photos, capsys, change, message):
    tmp_path, folder, checkpoint = photos
    change(pd.read_csv(tmp_path / "new.csv")).to_csv(tmp_path / "bad.csv", index=False)
    code = predict(
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
    )
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
