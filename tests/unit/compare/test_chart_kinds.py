"""What the comparison and sweep charts draw (issue 29.9): scores on an axis zoomed to the data
are points, never bars (a zoomed bar's length misreads as its value); the score axis never runs
past 1.0; a sweep over categories (architectures) gets points, not a line implying a trend; and
no two value labels overlap. Read from the matplotlib objects the plot functions return."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from maskflow.compare.sweep import SCORES, plot_sweep
from maskflow.compare.table import PLOTTED, plot_groups


def comparison(means: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """rows and groups as compare.build_tables gives them: one run per group, all scores equal."""
    rows = pd.DataFrame({"model": list(means), "group": list(means), **{c: list(means.values()) for c in PLOTTED}})
    groups = pd.DataFrame(
        {
            "group": list(means),
            "n_runs": 1,
            "mcnemar_p_median": np.nan,
            **{f"{c}_mean": list(means.values()) for c in PLOTTED},
            **{f"{c}_std": np.nan for c in PLOTTED},
        }
    )
    return rows, groups


def sweep(values: list, scores: list[list[float]]) -> pd.DataFrame:
    """One row per value; scores[i] gives the SCORES of row i."""
    columns = {score: list(column) for score, column in zip(SCORES, zip(*scores))}
    return pd.DataFrame({"model": [f"m{i}" for i in range(len(values))], "k": values, **columns})


def bars(ax) -> list:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def overlapping_labels(figure) -> list[tuple[str, str]]:
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for ax in figure.axes for t in ax.texts]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]


def test_the_comparison_draws_points_on_an_axis_that_never_passes_one():
    # the masks chart: cnn_undersample's 0.69 beside 0.9, and a digits model at 1.0
    rows, groups = comparison({"cnn_baseline": 0.90, "cnn_undersample": 0.69, "perfect": 1.0})
    ax = plot_groups(rows, groups, "masks", "cnn_baseline").axes[0]
    assert bars(ax) == []
    markers = {line.get_marker() for line in ax.lines if line.get_linestyle() == "None"}
    assert "D" in markers
    low, high = ax.get_xlim()
    assert high <= 1.0 and 0.5 < low <= 0.69


def test_the_comparison_labels_do_not_overlap():
    rows, groups = comparison({"a": 0.962, "b": 0.958, "c": 0.60})
    assert overlapping_labels(plot_groups(rows, groups, "digits", "a")) == []


def test_a_sweep_over_architectures_draws_points_not_a_line():
    table = sweep(["[64, 32]", "[512, 256]", "[32, 16]"], [[0.962, 0.958, 0.95, 0.955]] * 3)
    ax = plot_sweep(table, ["k"], "dnn_hidden").axes[0]
    scored = [line for line in ax.lines if line.get_label().replace(" ", "_") in SCORES]
    assert len(scored) == len(SCORES)
    assert {line.get_linestyle() for line in scored} == {"None"}
    assert ax.get_ylim()[1] <= 1.0


def test_a_sweep_over_numbers_joins_them_with_lines():
    ax = plot_sweep(sweep([0.1, 0.01, 0.001], [[0.9, 0.91, 0.92, 0.93]] * 3), ["k"], "lr").axes[0]
    assert {line.get_linestyle() for line in ax.lines if line.get_marker() == "o"} == {"-"}


@pytest.mark.parametrize("values", [["[64, 32]", "[512, 256]", "[32, 16]"], [0.5, 0.05, 0.005]])
def test_a_sweeps_close_scores_keep_their_labels_apart(values):
    # the digits dnn_hidden sweep: 0.962 and 0.958 were written on top of each other
    scores = [[0.962, 0.958, 0.960, 0.959], [0.97, 0.968, 0.969, 0.971], [0.80, 0.82, 0.81, 0.83]]
    assert overlapping_labels(plot_sweep(sweep(values, scores), ["k"], "s")) == []


def test_a_many_key_sweep_draws_points_within_one():
    table = sweep([1, 2], [[0.956, 0.95, 0.94, 0.93], [1.0, 0.99, 0.98, 0.97]])
    table["j"], table["l"] = ["a", "b"], ["c", "d"]
    ax = plot_sweep(table, ["k", "j", "l"], "s").axes[0]
    assert bars(ax) == []
    assert ax.get_xlim()[1] <= 1.0
