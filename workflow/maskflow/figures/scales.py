"""Axis scales for figures that compare runs: zoom scores to the data, put losses on a log axis.

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
    """Axis limits around the finite `values`, padded so the extremes and their labels stay inside.

    The lower limit never goes below `floor` (0 for scores); the upper limit may pass `ceiling`
    by the padding, so a label next to a score of 1.0 still fits. With no finite value the
    full range (floor, ceiling) is returned.
    """
    numbers = pd.to_numeric(pd.Series(np.ravel(np.asarray(values, dtype=object))), errors="coerce").to_numpy(float)
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        return floor, ceiling
    low, high = float(numbers.min()), float(numbers.max())
    # Equal values still get a visible window; a span of a few thousandths stays readable.
    pad = max((high - low) * pad_fraction, 0.005 * (ceiling - floor))
    return max(floor, low - pad), min(ceiling + pad, high + pad)


def label_bars(ax, bars, fmt: str = "{:.3f}", fontsize: float = 7) -> None:
    """Write each horizontal bar's value just past its end."""
    for bar in bars:
        width = bar.get_width()
        if np.isfinite(width):
            ax.annotate(
                fmt.format(width),
                (width, bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=fontsize,
            )


def label_points(ax, xs, ys, fmt: str = "{:.3f}", color=None, fontsize: float = 7) -> None:
    """Write each point's value just above it."""
    for x, y in zip(xs, ys):
        if np.isfinite(y):
            ax.annotate(
                fmt.format(y),
                (x, y),
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
