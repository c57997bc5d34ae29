"""maskflow evaluate: predictions and metrics of a real (small, untrained) checkpoint on real
cached arrays, and of an ensemble of hand-made member predictions.

The cache and checkpoint builders live in tests/helpers/evaluation.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from maskflow.cli import main
from maskflow.evaluation.metrics import split_metrics

from helpers.cli import evaluate_args
from helpers.evaluation import CLASSES, CNN, MLP_2D, write_cache, write_checkpoint

PREDICTION_COLUMNS = [
    "row_id",
    "photo",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "true",
    "predicted",
    "predicted_prior",
    "predicted_above_prior",
    "confidence",
]


def evaluate_model(model_dir: Path, cache_dir: Path) -> int:
    try:
        main(evaluate_args(model_dir, cache_dir))
    except SystemExit as stop:
        return int(stop.code)
    return 0


@pytest.fixture
def evaluated(tmp_path):
    cache_dir = write_cache(tmp_path / "cache")
    model_dir = tmp_path / "models" / "model_a"
    write_checkpoint(model_dir / "checkpoint.pt", cache_dir)
    assert evaluate_model(model_dir, cache_dir) == 0
    return model_dir, cache_dir


def test_predictions_follow_the_contract(evaluated):
    model_dir, cache_dir = evaluated
    for split in ("train", "val", "test"):
        frame = pd.read_csv(model_dir / f"predictions_{split}.csv", keep_default_na=False)
        assert list(frame.columns) == PREDICTION_COLUMNS + [f"p_{c}" for c in CLASSES]
        index = pd.read_csv(cache_dir / f"{split}_index.csv")
        assert frame["row_id"].tolist() == index["row_id"].tolist()
        assert frame["true"].tolist() == index["label"].tolist()
        proba = frame[[f"p_{c}" for c in CLASSES]].to_numpy()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
        assert frame["predicted"].tolist() == [CLASSES[k] for k in proba.argmax(axis=1)]
        np.testing.assert_allclose(frame["confidence"], proba.max(axis=1))


def test_metrics_match_the_predictions_and_carry_training_facts(evaluated):
    model_dir, _ = evaluated
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert (metrics["model"], metrics["dataset"], metrics["kind"], metrics["classes"]) == (
        "model_a",
        "masks",
        "model",
        CLASSES,
    )
    lookup = {c: i for i, c in enumerate(CLASSES)}
    for split in ("train", "val", "test"):
        frame = pd.read_csv(model_dir / f"predictions_{split}.csv", keep_default_na=False)
        expected = split_metrics(
            frame["true"].map(lookup),
            frame["predicted"].map(lookup),
            CLASSES,
            frame["predicted_prior"].map(lookup),
            frame["predicted_above_prior"].map(lookup),
        )
        assert metrics["splits"][split] == expected
    assert metrics["training"]["best_epoch"] == 1
    assert metrics["training"]["param_count"] > 0
    assert set(metrics["training"]["data_sha256"]) == {"train_x", "train_y", "val_x", "val_y"}
    assert metrics["spec"]["arch"] == CNN
    assert sum(metrics["train_prior"].values()) == pytest.approx(1.0)


def test_evaluation_is_deterministic(evaluated, tmp_path):
    model_dir, cache_dir = evaluated
    first = (model_dir / "predictions_test.csv").read_bytes()
    assert evaluate_model(model_dir, cache_dir) == 0
    assert (model_dir / "predictions_test.csv").read_bytes() == first


def test_a_rebuilt_cache_is_refused_with_a_clear_message(evaluated, capsys):
    model_dir, cache_dir = evaluated
    x = np.load(cache_dir / "val_x.npy")
    x[0, 0, 0, 0] ^= 1
    np.save(cache_dir / "val_x.npy", x)
    assert evaluate_model(model_dir, cache_dir) == 2
    error = capsys.readouterr().err
    assert "val_x" in error and "retrain" in error and "Traceback" not in error


def test_an_empty_split_is_evaluated_as_empty(tmp_path):
    cache_dir = write_cache(tmp_path / "cache", counts={"train": 20, "val": 0, "test": 6})
    model_dir = tmp_path / "models" / "m"
    write_checkpoint(model_dir / "checkpoint.pt", cache_dir, arch=MLP_2D)
    assert evaluate_model(model_dir, cache_dir) == 0
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["splits"]["val"]["n"] == 0 and metrics["splits"]["val"]["accuracy"] is None
    assert pd.read_csv(model_dir / "predictions_val.csv").empty


# --------------------------------------------------------------------------- ensembles


def write_member(
    models_dir: Path, name: str, proba_by_split: dict[str, np.ndarray], truth: list[str], seconds: float
) -> None:
    folder = models_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    for split, proba in proba_by_split.items():
        frame = pd.DataFrame(
            {
                "row_id": [f"r{i}" for i in range(len(proba))],
                "photo": "images/a.jpg",
                "xmin": 0,
                "ymin": 0,
                "xmax": 5,
                "ymax": 5,
                "true": truth,
                "predicted": [CLASSES[k] for k in proba.argmax(1)],
                "predicted_prior": "good",
                "confidence": proba.max(1),
            }
        )
        for k, c in enumerate(CLASSES):
            frame[f"p_{c}"] = proba[:, k]
        frame.to_csv(folder / f"predictions_{split}.csv", index=False)
    (folder / "metrics.json").write_text(
        json.dumps({"model": name, "training": {"param_count": 10, "train_seconds": seconds}})
    )


def run_ensemble(tmp_path, members) -> int:
    spec = {"name": "ens", "kind": "ensemble", "dataset": "masks", "members": members}
    try:
        main(
            [
                "evaluate",
                "--ensemble",
                json.dumps(spec),
                "--models-dir",
                str(tmp_path / "models"),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--out-dir",
                str(tmp_path / "models" / "ens"),
                "--metrics",
                str(tmp_path / "models" / "ens" / "metrics.json"),
            ]
        )
    except SystemExit as stop:
        return int(stop.code)
    return 0


def test_ensemble_averages_member_probabilities(tmp_path):
    write_cache(tmp_path / "cache")
    truth = ["good", "bad", "none", "good"]
    a = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6], [0.9, 0.05, 0.05]])
    b = np.array([[0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.8, 0.1, 0.1]])
    write_member(tmp_path / "models", "a", {s: a for s in ("train", "val", "test")}, truth, 1.0)
    write_member(tmp_path / "models", "b", {s: b for s in ("train", "val", "test")}, truth, 2.5)
    assert run_ensemble(tmp_path, ["a", "b"]) == 0
    frame = pd.read_csv(tmp_path / "models" / "ens" / "predictions_test.csv")
    np.testing.assert_allclose(frame[[f"p_{c}" for c in CLASSES]].to_numpy(), (a + b) / 2)
    # mean: [0.4, 0.5, 0.1] -> bad (member a alone says good), [0.3, 0.6, 0.1] -> bad, none, good
    assert frame["predicted"].tolist() == ["bad", "bad", "none", "good"]
    metrics = json.loads((tmp_path / "models" / "ens" / "metrics.json").read_text())
    assert metrics["kind"] == "ensemble" and metrics["members"] == ["a", "b"]
    assert metrics["splits"]["test"]["accuracy"] == pytest.approx(3 / 4)
    assert metrics["training"] == {"param_count": 20, "train_seconds": 3.5}


def test_ensemble_refuses_members_evaluated_on_different_rows(tmp_path, capsys):
    write_cache(tmp_path / "cache")
    proba = np.full((2, 3), 1 / 3)
    write_member(tmp_path / "models", "a", {s: proba for s in ("train", "val", "test")}, ["good", "bad"], 1.0)
    write_member(tmp_path / "models", "b", {s: proba for s in ("train", "val", "test")}, ["good", "bad"], 1.0)
    frame = pd.read_csv(tmp_path / "models" / "b" / "predictions_train.csv")
    frame.loc[0, "row_id"] = "other"
    frame.to_csv(tmp_path / "models" / "b" / "predictions_train.csv", index=False)
    assert run_ensemble(tmp_path, ["a", "b"]) == 2
    assert "rows differ" in capsys.readouterr().err


def test_prediction_tables_are_written_as_pandas_would_write_them():
    """evaluate writes predictions_{split}.csv with the csv module (no pandas in its job): the
    bytes must stay those pandas' to_csv wrote before, for awkward names and floats alike, and
    for a diverged model's NaN and infinite probabilities (to_csv writes NaN as an empty field)."""
    from maskflow.evaluation.evaluate import table_csv

    frame = {
        "row_id": np.array(["a.csv:2", 'quote"d', "comma,name"], dtype=object),
        "photo": np.array(["口罩 1.jpg", "", "x\ny.png"], dtype=object),
        "true": np.array(["good", "bad", "none"], dtype=object),
        "confidence": np.array([0.1 + 0.2, 1e-05, np.nan]),
        "p_good": np.array([1 / 3, -0.0, 2.5e-300]),
        "p_bad": np.array([np.nan, np.inf, -np.inf]),
    }
    assert table_csv(frame) == pd.DataFrame(frame).to_csv(index=False)
    empty = {name: values[:0] for name, values in frame.items()}
    assert table_csv(empty) == pd.DataFrame(empty).to_csv(index=False)
