"""Galleries of predictions: `misclassified_{split}` (wrong crops) and `overlays_{split}` (boxes on photos).

misclassified: the wrong crops of a split, most confident mistakes first, each titled with its
true class, predicted class and confidence; the crops are the cached arrays the model saw.
overlays: a few source photos with every annotated box drawn in the colour of its predicted
class and labelled true/predicted; photos with mistakes come first.

    maskflow figure misclassified_test --predictions .../predictions_test.csv \
        --cache-dir results/masks/cache --out ...
    maskflow figure overlays_test --predictions .../predictions_test.csv \
        --raw-dir resources/masks/raw --annotations results/masks/data/annotations.csv --out ...
"""

from __future__ import annotations

from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch, Rectangle

from maskflow.data import integrity
from maskflow.data.photos import open_photo, probe_photo
from maskflow.errors import DataError
from maskflow.figures.common import class_colors, grid_shape, message_figure, read_rows, show_crop
from maskflow.figures.glyphs import displayable

# Overlays are drawn from a reduced decode: photos are shown a few hundred pixels wide.
OVERLAY_WIDTH = 900


def render_misclassified(job):
    predictions = read_rows(job.path("predictions"), "predictions (run `maskflow evaluate` first)")
    x_path = job.path("cache_dir") / f"{job.split}_x.npy"
    # checked first (a truncated or overwritten file is named, not a traceback), then memory-mapped:
    # only the shown crops are read
    crops = integrity.load_array(x_path, mmap=True)
    if len(crops) != len(predictions):
        raise DataError(f"{x_path}: {len(crops)} crops but {job.path('predictions')} has {len(predictions)} rows")
    title = f"{job.model}: misclassified {job.split} crops"
    wrong = [i for i, row in enumerate(predictions) if row["true"] != row["predicted"]]
    if not wrong:
        text = f"the {job.split} split is empty" if not predictions else f"no mistakes among {len(predictions)} crops"
        return message_figure(title, text)
    # Most confident mistakes first: they are the instructive ones. Python's sort is stable: ties
    # keep data order.
    order = sorted(wrong, key=lambda i: -float(predictions[i]["confidence"]))
    shown = order[: int(job.setting("misclassified"))]
    rows, cols = grid_shape(len(shown))
    figure, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.2 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown):
        ax.axis("on")
        show_crop(ax, np.asarray(crops[i]))
        row = predictions[i]
        text, font = displayable(f"true {row['true']}\npred {row['predicted']} ({float(row['confidence']):.2f})")
        ax.set_title(text, fontsize=8, color="firebrick", parse_math=False, **font)
    figure.suptitle(f"{title}: {len(wrong)} of {len(predictions)} wrong, {len(shown)} shown")
    figure.tight_layout()
    return figure


def _photo_order(predictions: list[dict]) -> list[str]:
    """Photos with the most mistakes first, then with the most boxes, then by name: informative
    and deterministic."""
    wrong, boxes = Counter(), Counter()
    for row in predictions:
        boxes[row["photo"]] += 1
        wrong[row["photo"]] += row["true"] != row["predicted"]
    return sorted(boxes, key=lambda photo: (-wrong[photo], -boxes[photo], photo))


def draw_photo(ax, raw_dir, photo: str, boxes: list[dict], colors: dict[str, tuple]) -> None:
    """Draw a photo and its boxes (each a row with xmin..ymax, predicted, optional label = true class)."""
    path = raw_dir / photo
    width, _ = probe_photo(path, verify=False)
    image, scale = open_photo(path, "rgb", min_scale=min(1.0, OVERLAY_WIDTH / max(width, 1)))
    ax.imshow(np.asarray(image))
    ax.set_xticks([])
    ax.set_yticks([])
    # Names in any script (a CJK name has no glyph in the default font): see maskflow.figures.glyphs.
    # parse_math off: a `$` in a file name is not the start of a formula.
    title, font = displayable(photo if len(photo) <= 50 else "..." + photo[-47:])
    ax.set_title(title, fontsize=8, parse_math=False, **font)
    for box in boxes:
        predicted = box.get("predicted")
        missing = not isinstance(predicted, str) or predicted == ""
        color = (0.5, 0.5, 0.5) if missing else colors.get(predicted, (0, 0, 0))
        x0, y0 = float(box["xmin"]) * scale, float(box["ymin"]) * scale
        w, h = (float(box["xmax"]) - float(box["xmin"])) * scale, (float(box["ymax"]) - float(box["ymin"])) * scale
        ax.add_patch(
            Rectangle((x0, y0), w, h, fill=False, edgecolor=color, linewidth=2, linestyle=":" if missing else "-")
        )
        true = box.get("label")
        wrong = not missing and isinstance(true, str) and predicted != true
        label = f"{true}/" if isinstance(true, str) else ""
        label += "?" if missing else f"{predicted}" + (" \u2717" if wrong else "")
        label, font = displayable(label)
        # Mistakes get a red frame around their label, so they stand out among many boxes.
        ax.text(
            x0,
            y0 - 2,
            label,
            parse_math=False,
            **font,
            fontsize=7,
            color="white",
            va="bottom",
            weight="bold" if wrong else "normal",
            bbox={
                "facecolor": color,
                "edgecolor": "red" if wrong else "none",
                "linewidth": 1.5,
                "pad": 1,
                "alpha": 0.9,
            },
        )


def render_overlays(job):
    predictions = read_rows(job.path("predictions"), "predictions (run `maskflow evaluate` first)")
    title = f"{job.model}: {job.split} photos, boxes coloured by predicted class (labels true/predicted, \u2717 wrong)"
    if all(row["photo"] == "" for row in predictions):
        return message_figure(title, f"no {job.split} photos to draw")
    annotations = read_rows(job.path("annotations"), "annotations")
    # Every annotated box is drawn, from annotations.csv; its prediction is joined by row id
    # (a box without one would be drawn dotted grey rather than silently left out).
    predicted = {row["row_id"]: row for row in predictions}
    joined = [
        {**box, "predicted": predicted.get(box["row_id"], {}).get("predicted")}
        for box in annotations
        if box["split"] == job.split
    ]
    photos = _photo_order(predictions)[: int(job.setting("overlays"))]
    classes = job.classes or sorted({row["true"] for row in predictions} | {row["predicted"] for row in predictions})
    colors = dict(zip(classes, class_colors(len(classes))))
    rows, cols = grid_shape(len(photos), max_cols=2)
    figure, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.6 * rows + 0.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, photo in zip(axes.flat, photos):
        ax.axis("on")
        draw_photo(ax, job.path("raw_dir"), photo, [box for box in joined if box["photo"] == photo], colors)
    handles = [Patch(color=colors[c], label=f"predicted {c}") for c in classes]
    figure.legend(handles=handles, loc="lower center", ncol=len(classes), fontsize=9)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return figure
