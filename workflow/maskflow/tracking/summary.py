"""The report's History data: a dataset's runs with their changes (history.json) and a figure of
each model's test accuracy over its runs (history.png). Written by the tracking step, so the
report job reads two plain files and never imports MLflow.

    write_summary(rows, dataset="masks", experiment="masks", uri=..., out="history.json", plot="history.png")

`rows` are maskflow.tracking.history.with_changes's (newest first).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from maskflow.io import atomic

LEGEND_MAX = 12  # a sweep of hundreds of members would bury the plot in its legend


def plot_accuracy(rows: list[dict], out: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_model: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: r["start"]):
        if row["metrics"]["test_accuracy"] is not None:
            by_model.setdefault(row["model"], []).append(row)
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    for index, (model, runs) in enumerate(sorted(by_model.items())):
        times = [dt.datetime.fromtimestamp(r["start"] / 1000, dt.UTC) for r in runs]
        axes.plot(
            times,
            [r["metrics"]["test_accuracy"] for r in runs],
            marker="o",
            label=model if index < LEGEND_MAX else None,
        )
    if not by_model:
        axes.text(0.5, 0.5, "no run with a test accuracy", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("training started (UTC)")
    axes.set_ylabel("test accuracy")
    axes.set_title("Test accuracy of each model over its runs")
    axes.grid(alpha=0.3)
    if by_model:
        axes.legend(fontsize=8, loc="best")
    figure.autofmt_xdate()
    atomic.save_figure(out, figure)


def write_summary(rows: list[dict], dataset: str, experiment: str, uri: str, out: str | Path, plot: str | Path) -> dict:
    document = {
        "dataset": dataset,
        "experiment": experiment,
        "uri": uri,
        "runs": [{k: v for k, v in row.items() if k != "params"} for row in rows],
    }
    atomic.write_json(out, document)
    plot_accuracy(rows, plot)
    return document
