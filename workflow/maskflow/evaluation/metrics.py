"""Classification metrics, decision rules and McNemar's test: pure functions on label arrays.

`maskflow evaluate` builds `metrics.json` from these, `maskflow compare` tests models against
the dataset's baseline with `mcnemar_exact`. Nothing here reads or writes files.

    >>> from maskflow.evaluation.metrics import split_metrics
    >>> split_metrics([0, 1, 1], [0, 1, 0], ["good", "bad"])["accuracy"]
    0.6666666666666666

Definitions (the ones the classic exercises use):
- per-class `accuracy` is the share of that class's samples that were classified correctly
  (equal to its recall; it is what the "per-class accuracy" bar charts show);
- `balanced_accuracy` is the mean of the per-class accuracies over classes that occur;
- `macro_f1` averages F1 over classes that occur in the truth or the predictions;
- the prior-corrected rule divides each probability by the class's training prior before
  taking the argmax, which answers "is the most probable class the best pick when the
  classes are imbalanced?" (it maximises balanced accuracy when the model is calibrated);
- the above-prior rule picks the most probable class among those whose probability exceeds
  their training prior (the plain argmax when none does): a rare class wins whenever the model
  rates it above its base rate and no more probable class is also above its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# NumPy only: importing sklearn.metrics costs about a second per job, and these few formulas
# are checked against scikit-learn in tests/unit/evaluation/test_metrics.py.


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """K x K counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    # 0 where the denominator is 0 (sklearn's zero_division=0).
    return np.divide(top, bottom, out=np.zeros(len(top)), where=bottom > 0)


def per_class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """precision, recall, F1 and support of every class from a confusion matrix."""
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    precision = _ratio(tp, matrix.sum(axis=0).astype(np.float64))
    recall = _ratio(tp, support.astype(np.float64))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1, support


def summary(y_true: Sequence[int], y_pred: Sequence[int], k: int) -> dict:
    """accuracy, balanced accuracy and macro F1 of one set of predictions (None when empty)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.size == 0:
        # JSON has no NaN: an undefined metric (empty split) is written as null.
        return {"accuracy": None, "balanced_accuracy": None, "macro_f1": None}
    matrix = confusion(y_true, y_pred, k)
    _, recall, f1, support = per_class_scores(matrix)
    in_truth = support > 0
    in_either = in_truth | (matrix.sum(axis=0) > 0)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "balanced_accuracy": float(recall[in_truth].mean()),  # mean recall over classes in the truth
        "macro_f1": float(f1[in_either].mean()),  # over classes in the truth or the predictions
    }


def split_metrics(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    classes: Sequence[str],
    y_pred_prior: Sequence[int] | None = None,
    y_pred_above_prior: Sequence[int] | None = None,
) -> dict:
    """The metrics.json entry of one split (see docs/contracts.md)."""
    k = len(classes)
    matrix = confusion(y_true, y_pred, k)
    precision, recall, f1, support = per_class_scores(matrix)
    per_class = {}
    for index, name in enumerate(classes):
        n = int(support[index])
        per_class[name] = {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": n,
            # Undefined (null) for a class absent from the split, rather than a misleading 0.
            "accuracy": float(recall[index]) if n else None,
        }
    result = {
        "n": int(len(y_true)),
        **summary(y_true, y_pred, k),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }
    if y_pred_prior is not None:
        result["prior_corrected"] = summary(y_true, y_pred_prior, k)
    if y_pred_above_prior is not None:
        result["above_prior"] = summary(y_true, y_pred_above_prior, k)
    return result


def class_prior(labels: np.ndarray, k: int) -> np.ndarray:
    """Training class prior with add-one smoothing, so a class absent from train never divides by 0."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=k).astype(np.float64)
    return (counts + 1.0) / (counts.sum() + k)


def decide_argmax(proba: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
    """The most probable class (ties go to the lower class index, as np.argmax does)."""
    return np.asarray(proba).argmax(axis=1) if len(proba) else np.zeros(0, dtype=np.int64)


def decide_prior_corrected(proba: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """argmax of p(class | x) / p(class): the Bayes rule for a balanced class distribution."""
    return decide_argmax(np.asarray(proba) / np.asarray(prior)[None, :])


def decide_above_prior(proba: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The most probable class among those with p(class | x) > p(class); argmax when there is none."""
    proba = np.asarray(proba, dtype=np.float64)
    if not len(proba):
        return np.zeros(0, dtype=np.int64)
    above = proba > np.asarray(prior)[None, :]
    picked = np.where(above, proba, -np.inf).argmax(axis=1)
    return np.where(above.any(axis=1), picked, proba.argmax(axis=1))


# decision rule name -> function(proba, prior) -> predicted indices; every one is reported.
DECISION_RULES = {
    "argmax": decide_argmax,
    "prior_corrected": decide_prior_corrected,
    "above_prior": decide_above_prior,
}


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict:
    """McNemar's exact test of two classifiers on the same samples.

    b = samples A got right and B wrong, c = the reverse. Under "A and B are equally good" each
    discordant sample is a fair coin, so the two-sided p-value is a binomial test of b out of
    b + c at 1/2. No discordant pairs gives p = 1.
    """
    from scipy.stats import binomtest

    a = np.asarray(correct_a, dtype=bool)
    b_arr = np.asarray(correct_b, dtype=bool)
    if a.shape != b_arr.shape:
        raise ValueError(f"McNemar needs paired samples: {a.size} vs {b_arr.size}")
    b = int(np.sum(a & ~b_arr))
    c = int(np.sum(~a & b_arr))
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {"a_only": b, "b_only": c, "p_value": p}
