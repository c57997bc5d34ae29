"""maskflow.evaluation.metrics: checked against scikit-learn and against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from maskflow.evaluation.metrics import (
    DECISION_RULES,
    class_prior,
    decide_prior_corrected,
    mcnemar_exact,
    split_metrics,
)

CLASSES = ["good", "bad", "none"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_metrics_agree_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.choice(3, size=200, p=[0.8, 0.17, 0.03])
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 3, 200))
    result = split_metrics(y_true, y_pred, CLASSES)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2], zero_division=0)
    assert result["n"] == 200
    assert result["accuracy"] == pytest.approx(np.mean(y_true == y_pred))
    assert result["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert result["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert result["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=[0, 1, 2]).tolist()
    for k, name in enumerate(CLASSES):
        entry = result["per_class"][name]
        assert entry["precision"] == pytest.approx(precision[k])
        assert entry["recall"] == pytest.approx(recall[k])
        assert entry["f1"] == pytest.approx(f1[k])
        assert entry["support"] == support[k]
        assert entry["accuracy"] == pytest.approx(recall[k])


def test_hand_computed_example():
    # 4 good (3 right), 2 bad (1 right), 0 none; one good predicted as none.
    y_true = [0, 0, 0, 0, 1, 1]
    y_pred = [0, 0, 0, 2, 1, 0]
    result = split_metrics(y_true, y_pred, CLASSES)
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 2) / 2)  # none absent from the truth
    assert result["per_class"]["none"]["accuracy"] is None  # undefined, not 0
    assert result["per_class"]["none"]["support"] == 0
    assert result["confusion_matrix"] == [[3, 0, 1], [1, 1, 0], [0, 0, 0]]
    # F1: good 2*(3/4*3/4)/(3/2)=0.75, bad 2*(1*0.5)/1.5=2/3, none 0 (predicted, never true)
    assert result["macro_f1"] == pytest.approx((0.75 + 2 / 3 + 0) / 3)


def test_empty_split_gives_nulls_and_zero_matrix():
    result = split_metrics([], [], CLASSES, y_pred_prior=[])
    assert result["n"] == 0
    assert result["accuracy"] is None and result["balanced_accuracy"] is None and result["macro_f1"] is None
    assert result["confusion_matrix"] == [[0] * 3] * 3
    assert result["prior_corrected"] == {"accuracy": None, "balanced_accuracy": None, "macro_f1": None}


def test_prior_corrected_rule_picks_the_rare_class_when_its_evidence_beats_its_prior():
    prior = class_prior(np.array([0] * 80 + [1] * 17 + [2] * 3), 3)
    proba = np.array([[0.7, 0.2, 0.1], [0.95, 0.04, 0.01]])
    assert DECISION_RULES["argmax"](proba, prior).tolist() == [0, 0]
    # 0.1 / 0.039 > 0.7 / 0.79: the rare class wins the first sample; 0.01 / 0.039 < 0.95 / 0.79 not the second.
    assert decide_prior_corrected(proba, prior).tolist() == [2, 0]


def test_class_prior_is_smoothed_so_absent_classes_do_not_divide_by_zero():
    prior = class_prior(np.array([0, 0, 1]), 3)
    assert prior.tolist() == pytest.approx([3 / 6, 2 / 6, 1 / 6])
    assert np.all(np.isfinite(decide_prior_corrected(np.eye(3), prior)))


def test_mcnemar_exact_values():
    a = np.array([True] * 10 + [True] * 1 + [False] * 9)
    b = np.array([True] * 10 + [False] * 1 + [True] * 9)
    result = mcnemar_exact(a, b)
    assert (result["a_only"], result["b_only"]) == (1, 9)
    # two-sided exact binomial: 2 * P(X <= 1 | n=10, 1/2) = 2 * 11 / 1024
    assert result["p_value"] == pytest.approx(22 / 1024)
    assert mcnemar_exact(b, a)["p_value"] == pytest.approx(result["p_value"])
    assert mcnemar_exact(a, a) == {"a_only": 0, "b_only": 0, "p_value": 1.0}


def test_mcnemar_refuses_unpaired_samples():
    with pytest.raises(ValueError, match="paired"):
        mcnemar_exact([True, False], [True])


def test_above_prior_rule_picks_the_most_probable_class_above_its_prior_else_argmax():
    from maskflow.evaluation.metrics import decide_above_prior

    prior = np.array([0.79, 0.17, 0.04])
    proba = np.array(
        [
            [0.70, 0.20, 0.10],  # bad and none above their priors: bad, the more probable of them
            [0.75, 0.15, 0.10],  # only none above its prior
            [0.90, 0.06, 0.04],  # good above its prior, none only equal to it: good
            [0.50, 0.16, 0.34],  # none above; good (0.50) is more probable but below its prior
            [0.70, 0.16, 0.04],  # nobody above (0.04 is not > 0.04): plain argmax
        ]
    )
    assert decide_above_prior(proba, prior).tolist() == [1, 2, 0, 2, 0]
    assert DECISION_RULES["above_prior"] is decide_above_prior
    assert decide_above_prior(np.zeros((0, 3)), prior).tolist() == []


def test_split_metrics_reports_the_above_prior_rule_like_the_prior_corrected_one():
    result = split_metrics(
        [0, 1, 2, 2], [0, 0, 0, 2], CLASSES, y_pred_prior=[0, 1, 0, 2], y_pred_above_prior=[0, 1, 2, 2]
    )
    assert result["above_prior"] == {"accuracy": 1.0, "balanced_accuracy": 1.0, "macro_f1": 1.0}
    assert result["prior_corrected"]["accuracy"] == 0.75
