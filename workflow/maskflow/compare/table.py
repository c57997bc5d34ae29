"""`maskflow compare`: one table and one plot comparing every model of a dataset.

    maskflow compare --dataset masks --baseline cnn_baseline \
        --metrics results/masks/models/*/metrics.json \
        --predictions results/masks/models/*/predictions_test.csv \
        --table results/masks/comparison.csv --groups results/masks/comparison_groups.csv \
        --plot results/masks/comparison.png

`comparison.csv` has one row per model (each replicate seed and each ensemble too): its key
settings, parameter count, best epoch, train / val / test accuracy, test balanced accuracy and
macro F1, test accuracy and balanced accuracy under the prior-corrected and above-prior rules,
training seconds, and McNemar's exact test against the dataset's baseline on the test split (`mcnemar_p`; the baseline run is the replicate with the
same seed when the baseline has seeds). `comparison_groups.csv` has one row per model group
(a model's replicates together): mean and standard deviation over the seeds. The plot shows
the group means as points (not bars: the axis is zoomed to the data, the differences being the
point, and never passes 1.0), the standard deviation as error bars and every replicate as a dot,
each mean written right of its row.
Everything is read from metrics.json (which carries the resolved config and training facts),
except each model's description, which the workflow passes from the config (`--descriptions`).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.errors import DataError
from maskflow.evaluation.metrics import mcnemar_exact
from maskflow.figures.scales import zoom_limits
from maskflow.io import atomic
from maskflow.models.settings import table_settings
from maskflow.options import json_option

log = logging.getLogger(__name__)

# (column, split, metric key, decision rule) of the accuracy-like columns of the table.
SCORE_COLUMNS = [
    ("train_accuracy", "train", "accuracy", None),
    ("val_accuracy", "val", "accuracy", None),
    ("test_accuracy", "test", "accuracy", None),
    ("test_balanced_accuracy", "test", "balanced_accuracy", None),
    ("test_macro_f1", "test", "macro_f1", None),
    ("test_accuracy_prior", "test", "accuracy", "prior_corrected"),
    ("test_balanced_accuracy_prior", "test", "balanced_accuracy", "prior_corrected"),
    ("test_accuracy_above_prior", "test", "accuracy", "above_prior"),
    ("test_balanced_accuracy_above_prior", "test", "balanced_accuracy", "above_prior"),
]
# Columns summarised over the replicates of a group (mean and std).
GROUP_COLUMNS = [
    "val_accuracy",
    "test_accuracy",
    "test_balanced_accuracy",
    "test_macro_f1",
    "test_balanced_accuracy_prior",
    "test_balanced_accuracy_above_prior",
    "train_seconds",
]
INTEGER_COLUMNS = [
    "seed",
    "batch_size",
    "epochs",
    "param_count",
    "best_epoch",
    "epochs_run",
    "mcnemar_baseline_only",
    "mcnemar_model_only",
]
PLOTTED = {"test_accuracy": "#4c72b0", "test_balanced_accuracy": "#dd8452", "test_macro_f1": "#55a868"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--baseline", default="", help="model or replicate group the others are tested against")
    parser.add_argument("--metrics", nargs="+", required=True, help="metrics.json of every model")
    parser.add_argument(
        "--predictions", nargs="+", required=True, help="predictions_test.csv of every model, same order"
    )
    parser.add_argument("--table", required=True, help="comparison.csv to write (one row per model)")
    parser.add_argument("--groups", required=True, help="comparison_groups.csv to write (replicates: mean, std)")
    parser.add_argument("--plot", required=True, help="comparison.png to write")
    parser.add_argument(
        "--descriptions",
        default="{}",
        help="JSON: model -> its config description (kept out of checkpoints and metrics, which only "
        "hold what affects the numbers)",
    )


# --------------------------------------------------------------------------- table


def _score(metrics: dict, split: str, key: str, rule: str | None):
    entry = metrics["splits"].get(split) or {}
    if rule:
        entry = entry.get(rule) or {}
    return entry.get(key)


def model_row(metrics: dict) -> dict:
    spec = metrics.get("spec") or {}
    training = metrics.get("training") or {}
    row = {
        "model": metrics["model"],
        "group": spec.get("group", metrics["model"]),
        "kind": metrics.get("kind", spec.get("kind", "model")),
        "description": spec.get("description", ""),
        "seed": spec.get("seed"),
        "sweep": spec.get("sweep"),
        **table_settings({**spec, "kind": metrics.get("kind")}),
        "param_count": training.get("param_count"),
        "best_epoch": training.get("best_epoch"),
        "epochs_run": training.get("epoch"),
    }
    for column, split, key, rule in SCORE_COLUMNS:
        row[column] = _score(metrics, split, key, rule)
    row["train_seconds"] = training.get("train_seconds")
    return row


def _read_correct(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, dtype={"row_id": str, "true": str, "predicted": str})
    return pd.DataFrame({"row_id": frame["row_id"], "correct": frame["true"] == frame["predicted"]})


def baseline_run(rows: pd.DataFrame, baseline: str, seed) -> str | None:
    """The run a model is tested against: the baseline itself, or its replicate with the same seed."""
    candidates = rows[(rows["model"] == baseline) | (rows["group"] == baseline)]
    if candidates.empty:
        return None
    same_seed = candidates[candidates["seed"] == seed] if seed is not None else candidates.iloc[0:0]
    chosen = same_seed if not same_seed.empty else candidates.sort_values("seed", na_position="last", kind="stable")
    return str(chosen.iloc[0]["model"])


def add_mcnemar(rows: pd.DataFrame, correct: dict[str, pd.DataFrame], baseline: str) -> pd.DataFrame:
    rows = rows.copy()
    rows["baseline"], rows["mcnemar_baseline_only"], rows["mcnemar_model_only"], rows["mcnemar_p"] = (
        None,
        None,
        None,
        None,
    )
    for i, row in rows.iterrows():
        reference = baseline_run(rows, baseline, row["seed"]) if baseline else None
        if reference is None or reference == row["model"]:  # the baseline itself: nothing to test
            continue
        a, b = correct[reference], correct[row["model"]]
        if not a["row_id"].equals(b["row_id"]):
            raise DataError(
                f"test predictions of {row['model']} and {reference} are not on the same rows: cannot pair them"
            )
        test = mcnemar_exact(a["correct"], b["correct"])
        rows.loc[i, ["baseline", "mcnemar_baseline_only", "mcnemar_model_only", "mcnemar_p"]] = [
            reference,
            test["a_only"],
            test["b_only"],
            test["p_value"],
        ]
    return rows


def group_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation of each group's replicates (std empty for one run)."""
    records = []
    for group, members in rows.groupby("group", sort=False):
        record = {
            "group": group,
            "kind": members["kind"].iloc[0],
            "n_runs": len(members),
            "models": " ".join(members["model"]),
        }
        for column in GROUP_COLUMNS:
            values = pd.to_numeric(members[column], errors="coerce").dropna()
            record[f"{column}_mean"] = values.mean() if len(values) else None
            record[f"{column}_std"] = values.std(ddof=1) if len(values) > 1 else None
        p = pd.to_numeric(members["mcnemar_p"], errors="coerce").dropna()
        record["mcnemar_p_median"] = p.median() if len(p) else None
        records.append(record)
    return pd.DataFrame(records)


# --------------------------------------------------------------------------- plot


def plot_groups(rows: pd.DataFrame, groups: pd.DataFrame, dataset: str, baseline: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(groups)
    figure, ax = plt.subplots(figsize=(9, 1.0 + 0.55 * n * len(PLOTTED) / 2 + 0.8))
    height = 0.8 / len(PLOTTED)
    y = np.arange(n)
    shown = []  # every value drawn (means, mean -/+ std, replicates): the axis is zoomed to them
    ends = []  # per plotted row: where its value label goes (right of its mean, error bar, seeds)
    for k, (column, colour) in enumerate(PLOTTED.items()):
        positions = y - 0.4 + height * (k + 0.5)
        means = pd.to_numeric(groups[f"{column}_mean"], errors="coerce").to_numpy(float)
        stds = pd.to_numeric(groups[f"{column}_std"], errors="coerce").to_numpy(float)
        # Points, not bars: on an axis zoomed to the data a bar's length misreads as its value.
        ax.plot(means, positions, "D", color=colour, markersize=6, label=column.replace("_", " "), clip_on=False)
        shown += [means, means - np.nan_to_num(stds), means + np.nan_to_num(stds), rows[column]]
        has_std = np.isfinite(stds)
        if has_std.any():  # error bars only where there are replicates
            ax.errorbar(means[has_std], positions[has_std], xerr=stds[has_std], fmt="none", ecolor="black", capsize=3)
        for pos, group, mean, std in zip(positions, groups["group"], means, stds):
            values = pd.to_numeric(rows.loc[rows["group"] == group, column], errors="coerce").dropna()
            if len(values) > 1:  # replicates: every seed as a dot on its row
                ax.plot(values, np.full(len(values), pos), "k.", markersize=4)
            right = np.nanmax([mean, mean + np.nan_to_num(std), *values]) if np.isfinite(mean) else np.nan
            ends.append((right, pos, mean))
    labels = []
    for _, group in groups.iterrows():
        label = f"{group['group']} *" if group["group"] == baseline else str(group["group"])
        if group["n_runs"] > 1:
            label += f" (n={group['n_runs']})"
        if pd.notna(group["mcnemar_p_median"]):
            label += f"\np={group['mcnemar_p_median']:.3g}"
        labels.append(label)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    low, high = zoom_limits(
        np.concatenate([pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(float) for v in shown])
    )
    ax.set_xlim(low, high)
    for right, pos, mean in ends:  # each mean written right of everything drawn on its row
        if np.isfinite(mean):
            ax.annotate(f"{mean:.3f}", (right, pos), xytext=(5, 0), textcoords="offset points", va="center", fontsize=6)
    ax.set_xlabel("test split (diamond = mean over seeds, error bar = std, dots = seeds; axis zoomed to the data)")
    ax.grid(axis="x", alpha=0.3)
    handles, legend_labels = ax.get_legend_handles_labels()
    title = f"{dataset}: model comparison"
    if baseline:
        title += f" (* baseline {baseline}; p = McNemar exact test vs baseline)"
    ax.set_title(title, fontsize=10)
    # Below the axes, so the legend never hides a bar near 1.0.
    figure.legend(handles, legend_labels, loc="lower center", ncol=len(PLOTTED), fontsize=8)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


# --------------------------------------------------------------------------- command


def build_tables(
    metrics_paths: list[str], prediction_paths: list[str], baseline: str, descriptions: dict[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(metrics_paths) != len(prediction_paths):
        raise DataError(f"{len(metrics_paths)} metrics files but {len(prediction_paths)} prediction files")
    documents, correct = [], {}
    for metrics_path, prediction_path in zip(metrics_paths, prediction_paths):
        document = json.loads(Path(metrics_path).read_text())
        documents.append(document)
        correct[document["model"]] = _read_correct(Path(prediction_path))
    rows = pd.DataFrame([model_row(d) for d in documents])
    if descriptions:
        rows["description"] = [descriptions.get(name, text) for name, text in zip(rows["model"], rows["description"])]
    if baseline and not ((rows["model"] == baseline) | (rows["group"] == baseline)).any():
        raise DataError(f"baseline {baseline!r} is not among the compared models ({', '.join(rows['model'])})")
    rows = add_mcnemar(rows, correct, baseline)
    # Whole numbers stay whole in the CSV even where a row (an ensemble) has none.
    for column in INTEGER_COLUMNS:
        rows[column] = pd.array(pd.to_numeric(rows[column], errors="coerce").round(), dtype="Int64")
    return rows, group_table(rows)


def run(args: argparse.Namespace) -> None:
    descriptions = json_option(args.descriptions, "--descriptions")
    rows, groups = build_tables(args.metrics, args.predictions, args.baseline, descriptions)
    atomic.write_csv(args.table, rows)
    atomic.write_csv(args.groups, groups)
    atomic.save_figure(args.plot, plot_groups(rows, groups, args.dataset, args.baseline))
    for _, row in rows.iterrows():
        log.info(
            "%s: test accuracy %s, McNemar p vs %s: %s",
            row["model"],
            row["test_accuracy"],
            row["baseline"],
            row["mcnemar_p"],
        )
