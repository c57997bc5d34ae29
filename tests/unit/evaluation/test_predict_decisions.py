"""`maskflow predict` gives the three decisions of predictions_{split}.csv (argmax,
prior-corrected, above-prior), with the training prior of the model's metrics.json, and counts
its boxes and photos in good English (issue 29.8)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.evaluation.metrics import DECISION_RULES

from helpers import TINY_CONFIG
from helpers.cli import assert_clear_error, cli
from helpers.evaluation import CLASSES, write_cache, write_checkpoint

PREPROCESS = json.dumps({"size": 12, "channels": "rgb", "margin": 0.1, "square": True})
# far from uniform, so that the prior-based decisions differ from the argmax on random weights
PRIOR = {"good": 0.02, "bad": 0.08, "none": 0.90}
DECISIONS = ["predicted", "predicted_prior", "predicted_above_prior"]


@pytest.fixture
def one_photo(tmp_path):
    """One real JPEG with `boxes` boxes, a checkpoint and (when asked) its metrics.json."""

    def make(boxes: int, metrics: bool = True):
        folder = tmp_path / "photos"
        folder.mkdir(exist_ok=True)
        rng = np.random.default_rng(1)
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(folder / "a.jpg", quality=92)
        corners = [(4 + 6 * k, 4 + 3 * k) for k in range(boxes)]
        rows = [{"filename": "a.jpg", "xmin": x, "ymin": y, "xmax": x + 40, "ymax": y + 40} for x, y in corners]
        pd.DataFrame(rows).to_csv(tmp_path / "new.csv", index=False)
        checkpoint = write_checkpoint(tmp_path / "model" / "checkpoint.pt", write_cache(tmp_path / "cache"))
        if metrics:
            (checkpoint.parent / "metrics.json").write_text(json.dumps({"train_prior": PRIOR}))
        args = ["--checkpoint", str(checkpoint), "--annotations", str(tmp_path / "new.csv")]
        return [*args, "--images", str(folder), "--out", str(tmp_path / "preds.csv"), "--preprocess", PREPROCESS]

    return make


def test_predict_writes_the_three_decisions_of_the_workflows_predictions(one_photo, tmp_path, capsys):
    assert cli("predict", *one_photo(6), capsys=capsys)[0] == 0
    preds = pd.read_csv(tmp_path / "preds.csv")
    assert [c for c in preds.columns if c.startswith("predicted")] == DECISIONS
    proba = preds[[f"p_{c}" for c in CLASSES]].to_numpy()
    prior = np.array([PRIOR[c] for c in CLASSES])
    names = np.array(CLASSES, dtype=object)
    for column, rule in zip(DECISIONS, ("argmax", "prior_corrected", "above_prior")):
        assert preds[column].tolist() == names[DECISION_RULES[rule](proba, prior)].tolist(), column
    assert (preds["predicted_prior"] != preds["predicted"]).any(), "the prior changes some decision here"


def test_predict_counts_one_box_in_one_photo(one_photo, caplog, capsys):
    with caplog.at_level(logging.INFO):
        assert cli("predict", *one_photo(1), capsys=capsys)[0] == 0
    assert "1 box in 1 photo ->" in caplog.text


def test_predict_without_the_models_metrics_says_where_the_prior_comes_from(one_photo, capsys):
    status, err = cli("predict", *one_photo(2, metrics=False), capsys=capsys)
    assert_clear_error(status, err, "metrics.json: not found", "--metrics")


@pytest.mark.workflow
def test_predicting_the_test_photos_gives_the_workflows_three_decisions(tiny_run, tmp_path, capsys):
    annotations = pd.read_csv(tiny_run / "results/masks/data/annotations.csv", keep_default_na=False)
    annotations[annotations["split"] == "test"].to_csv(tmp_path / "new.csv", index=False)
    model = tiny_run / "results/masks/models/cnn_aug"
    args = ["--checkpoint", str(model / "checkpoint.pt"), "--annotations", str(tmp_path / "new.csv")]
    args += ["--images", str(tiny_run / "resources/masks/raw"), "--out", str(tmp_path / "preds.csv")]
    columns = json.dumps({"filename": "photo"})
    assert cli("predict", *args, "--columns", columns, "--config", TINY_CONFIG, capsys=capsys)[0] == 0
    preds = pd.read_csv(tmp_path / "preds.csv", keep_default_na=False)
    workflow = pd.read_csv(model / "predictions_test.csv", keep_default_na=False)
    assert preds[DECISIONS].to_numpy().tolist() == workflow[DECISIONS].to_numpy().tolist()
