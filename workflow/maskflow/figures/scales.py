"""Axis scales for figures that compare runs: zoom scores to the data, put losses on a log axis.

Scores on a zoomed axis are drawn as points, never bars: a bar's length reads as its value, and
a bar on an axis starting at 0.42 makes 0.69 look a quarter of 0.9. The axis never passes 1.0.

Not a command of its own; the comparison plot (compare/table.py) and the sweep plots
(compare/sweep.py) use it. The point of those figures is the difference between runs, often
a few hundredths of accuracy: on a 0..1 axis that difference is a flat line, and on a linear
loss axis one diverging run (a spike to 10^4) flattens every other curve to zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# A run whose loss rises this many times above its first epoch's loss (or turns NaN/inf) diverged.
DIVERGED_FACTOR = 10.0


def zoom_limits(values, floor: float = 0.0, ceiling: float = 1.0, pad_fraction: float = 0.15) -> tuple[float, float]:
    """Axis limits around the finite `values`, padded so the extremes stay inside, within
    (floor, ceiling): a score axis never runs past 1.0 (a point at 1.0 is drawn unclipped, on
    the edge). With no finite value the full range (floor, ceiling) is returned.
    """
    numbers = pd.to_numeric(pd.Series(np.ravel(np.asarray(values, dtype=object))), errors="coerce").to_numpy(float)
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        return floor, ceiling
    low, high = float(numbers.min()), float(numbers.max())
    # Equal values still get a visible window; a span of a few thousandths stays readable.
    pad = max((high - low) * pad_fraction, 0.005 * (ceiling - floor))
    return max(floor, low - pad), min(ceiling, high + pad)


def label_right(ax, xs, ys, fmt: str = "{:.3f}", fontsize: float = 7) -> None:
    """Write each value (x) just right of its point at (x, y) in a horizontal dot plot."""
    for x, y in zip(xs, ys):
        if np.isfinite(x):
            ax.annotate(
                fmt.format(x), (x, y), xytext=(5, 0), textcoords="offset points", va="center", fontsize=fontsize
            )


def dodged(ax, series: int, index: int, spacing: float = 26):
    """A transform shifting series `index` of `series` sideways (in points), so that several
    series plotted at the same x keep their markers and value labels apart (0.962 beside 0.958,
    not on top of it), whatever the axis scale."""
    from matplotlib.transforms import offset_copy

    return offset_copy(ax.transData, fig=ax.figure, x=(index - (series - 1) / 2) * spacing, y=0, units="points")


def label_points(ax, xs, ys, fmt: str = "{:.3f}", color=None, fontsize: float = 7, transform=None) -> None:
    """Write each point's value just above it (`transform`: the one its points were drawn with)."""
    for x, y in zip(xs, ys):
        if np.isfinite(y):
            ax.annotate(
                fmt.format(y),
                (x, y),
                xycoords=transform or ax.transData,
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=fontsize,
                color=color,
            )


def diverged(losses) -> bool:
    """Whether a loss curve blew up: a NaN/inf value, or a rise to DIVERGED_FACTOR x its first value."""
    values = pd.to_numeric(pd.Series(losses), errors="coerce").to_numpy(float)
    if values.size == 0:
        return False
    if not np.isfinite(values).all():  # a NaN train loss is a run that overflowed, not a gap
        return True
    return values[0] > 0 and values.max() >= DIVERGED_FACTOR * values[0]
