"""`maskflow history`'s rows (maskflow.tracking.history) and what a run is made of
(maskflow.tracking.record): setting diffs, metric deltas, the last invocation's marks, formats."""

from __future__ import annotations

import csv
import io

from maskflow.tracking import history, record


def run(model, start, lr, acc, invocation="i1", bal=0.5):
    return {
        "run_id": f"{model}-{start}",
        "model": model,
        "kind": "model",
        "start": start * 1000,
        "end": start * 1000 + 10,
        "invocation": invocation,
        "params": {"train.lr": str(lr), "train.epochs": "3"},
        "metrics": {"test_accuracy": acc, "test_balanced_accuracy": bal},
    }


ROWS = [run("a", 1, 0.001, 0.5), run("b", 2, 0.1, 0.7), run("a", 10, 0.002, 0.6, invocation="i2")]


def test_changes_and_deltas_against_the_same_models_previous_run():
    rows = history.with_changes(ROWS)
    assert [r["run_id"] for r in rows] == ["a-10", "b-2", "a-1"]  # newest first
    newest = rows[0]
    assert newest["changes"] == ["train.lr: 0.001 -> 0.002"] and newest["number"] == 2
    assert abs(newest["deltas"]["test_accuracy"] - 0.1) < 1e-9 and newest["deltas"]["test_balanced_accuracy"] == 0
    assert rows[1]["changes"] == [] and rows[1]["deltas"]["test_accuracy"] is None  # b's first run
    assert [r["new"] for r in rows] == [True, False, False]  # only the last invocation's run


def test_added_and_removed_settings_are_diffs_too():
    before, after = {"train.lr": "0.1"}, {"train.lr": "0.1", "train.augment.hflip": "true"}
    assert history.changes(before, after) == ["train.augment.hflip: <none> -> true"]
    assert history.changes(after, before) == ["train.augment.hflip: true -> <none>"]


def test_formats():
    rows = history.with_changes(ROWS)
    table = history.render(rows[:1], "table").splitlines()
    assert table[0].startswith("a *  run 2") and "test accuracy 0.6000 (+0.1000)" in table[0]
    assert table[1] == "    train.lr: 0.001 -> 0.002" and table[-1] == "* trained in the last invocation"
    parsed = list(csv.DictReader(io.StringIO(history.render(rows, "csv"))))
    assert parsed[0]["changes"] == "train.lr: 0.001 -> 0.002" and parsed[0]["new"] == "*"
    markdown = history.render(rows, "markdown").splitlines()
    assert markdown[0].startswith("| model | run |") and "`train.lr: 0.001 -> 0.002`" in markdown[2]
    assert [r["model"] for r in history.latest_per_model(rows)] == ["a", "b"]


def test_params_are_dotted_keys_and_scores_cover_each_decision_rule():
    flat = record.flatten({"train": {"lr": 0.001, "augment": {}}, "arch": {"blocks": [{"kernel": 3}]}})
    assert flat == {"train.lr": "0.001", "train.augment": "{}", "arch.blocks.0.kernel": "3"}
    scores = record.final_scores(
        {
            "splits": {
                "test": {
                    "accuracy": 0.5,
                    "balanced_accuracy": 0.4,
                    "macro_f1": None,
                    "prior_corrected": {"accuracy": 0.6},
                }
            }
        }
    )
    assert scores == {"test_accuracy": 0.5, "test_balanced_accuracy": 0.4, "test_prior_corrected_accuracy": 0.6}
