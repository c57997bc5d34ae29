"""What the README promises each figure shows, checked on the matplotlib figure before it is saved
(issue 14, items 4 and 14): `maskflow figure ...` runs as users run it, with the module's `save`
replaced by one that keeps the Figure.

- learning_curves: "loss and accuracy, train vs val, best epoch marked";
- misclassified_test: "grid of wrong crops with true, predicted, confidence" (most confident
  mistakes first), and a message instead of a grid when there are no mistakes;
- overlays_test: a photo named in any script (CJK included) is titled with its name, with no
  "Glyph ... missing" warning: shown in a font that has the glyphs, or the missing characters
  alone escaped where no installed font has them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from PIL import Image

import maskflow.figures.command
from maskflow.cli import main
from maskflow.figures.glyphs import PLACEHOLDER_FONTS

from helpers.evaluation import CLASSES, write_cache

SPEC = json.dumps({"name": "m", "classes": CLASSES, "figures": {"misclassified": 8, "overlays": 2}})


@pytest.fixture
def drawn(monkeypatch):
    """Run `maskflow figure NAME --key value...` and return the Figure it would have saved."""
    kept = []
    monkeypatch.setattr(maskflow.figures.command, "save", lambda path, figure: kept.append(figure))

    def draw(name: str, **inputs):
        args = ["figure", name, "--out", "unused.png", "--spec", SPEC]
        for key, value in inputs.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        main(args)
        assert len(kept) == 1
        return kept.pop()

    return draw


def texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


# ======================================================================== learning curves


def test_learning_curves_mark_the_best_epoch_of_the_checkpoint(tmp_path, drawn):
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4, 5],
            "train_loss": [1.0, 0.7, 0.5, 0.4, 0.3],
            "train_acc": [0.5, 0.6, 0.7, 0.8, 0.85],
            "val_loss": [1.1, 0.8, 0.9, 0.7, 0.75],
            "val_acc": [0.4, 0.55, 0.6, 0.58, 0.57],
            "lr": 0.01,
            "seconds": 1.0,
        }
    )
    history.to_csv(tmp_path / "history.csv", index=False)
    # The checkpoint kept epoch 3 (val_acc monitored): not the epoch of the lowest val_loss (4).
    metrics = {"model": "m", "classes": CLASSES, "kind": "model", "splits": {}, "training": {"best_epoch": 3}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    figure = drawn("learning_curves", history=tmp_path / "history.csv", metrics=tmp_path / "metrics.json")
    loss, accuracy = figure.axes
    assert (loss.get_title(), accuracy.get_title()) == ("loss", "accuracy")
    for ax, (train, val) in zip((loss, accuracy), (("train_loss", "val_loss"), ("train_acc", "val_acc"))):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"train", "val", "best epoch (3)"}
        np.testing.assert_array_equal(lines["train"].get_ydata(), history[train])
        np.testing.assert_array_equal(lines["val"].get_ydata(), history[val])
        assert list(lines["best epoch (3)"].get_xdata()) == [3, 3]  # a vertical line at epoch 3
    legend = [t.get_text() for t in accuracy.get_legend().get_texts()]
    assert "best epoch (3)" in legend


# ======================================================================== misclassified gallery


def write_predictions(path: Path, truth, predicted, confidence) -> Path:
    n = len(truth)
    frame = pd.DataFrame(
        {
            "row_id": [f"test.csv:{i + 1}" for i in range(n)],
            "photo": "images/a.jpg",
            "xmin": 0,
            "ymin": 0,
            "xmax": 10,
            "ymax": 10,
            "true": truth,
            "predicted": predicted,
            "predicted_prior": predicted,
            "confidence": confidence,
        }
    )
    for c in CLASSES:
        frame[f"p_{c}"] = 1 / 3
    frame.to_csv(path, index=False)
    return path


TRUTH = ["good", "bad", "none", "good", "bad", "good"]


def test_misclassified_titles_say_true_predicted_and_confidence_most_confident_first(tmp_path, drawn):
    cache_dir = write_cache(tmp_path / "cache", counts={"train": 5, "val": 2, "test": 6})
    predicted = ["good", "good", "good", "bad", "bad", "good"]
    predictions = write_predictions(tmp_path / "p.csv", TRUTH, predicted, [0.9, 0.8, 0.7, 0.95, 0.6, 0.5])
    figure = drawn("misclassified_test", predictions=predictions, cache_dir=cache_dir)
    shown = [ax for ax in figure.axes if ax.images]
    assert [ax.get_title() for ax in shown] == [
        "true good\npred bad (0.95)",  # row 4: the most confident mistake
        "true bad\npred good (0.80)",
        "true none\npred good (0.70)",
    ]
    crops = np.load(cache_dir / "test_x.npy")
    for ax, row in zip(shown, (3, 1, 2)):
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), crops[row])  # the crop the model saw
    assert figure._suptitle.get_text() == "m: misclassified test crops: 3 of 6 wrong, 3 shown"


def test_no_mistakes_is_said_instead_of_an_empty_grid(tmp_path, drawn):
    cache_dir = write_cache(tmp_path / "cache", counts={"train": 5, "val": 2, "test": 6})
    predictions = write_predictions(tmp_path / "p.csv", TRUTH, TRUTH, [0.9] * 6)
    figure = drawn("misclassified_test", predictions=predictions, cache_dir=cache_dir)
    assert not any(ax.images for ax in figure.axes)
    assert "no mistakes among 6 crops" in texts(figure)


# ======================================================================== names in any script

CJK_NAME = "маска 口罩 été.jpg"  # Cyrillic and Latin are in DejaVu Sans, the two CJK characters are not


def fonts_with(character: str) -> list[str]:
    """Installed fonts (placeholder fonts aside) that have a glyph for `character`."""
    return sorted(
        {
            f.name
            for f in font_manager.fontManager.ttflist
            if f.name not in PLACEHOLDER_FONTS and ord(character) in FT2Font(f.fname).get_charmap()
        }
    )


def overlay_of(tmp_path, drawn, name: str):
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (320, 240), (200, 200, 200)).save(raw / "images" / name, quality=90)
    predictions = write_predictions(tmp_path / "p.csv", ["good"], ["bad"], [0.9])
    frame = pd.read_csv(predictions).assign(photo=f"images/{name}")
    frame.to_csv(predictions, index=False)
    frame[["row_id", "photo", "xmin", "ymin", "xmax", "ymax"]].assign(label="good", split="test").to_csv(
        tmp_path / "annotations.csv", index=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is a UserWarning
        figure = drawn("overlays_test", predictions=predictions, raw_dir=raw, annotations=tmp_path / "annotations.csv")
        figure.canvas.draw()  # glyphs are looked up when the text is laid out
    (photo,) = [ax for ax in figure.axes if ax.images]
    return photo.title


def test_a_cjk_photo_name_is_titled_without_a_missing_glyph(tmp_path, drawn):
    title = overlay_of(tmp_path, drawn, CJK_NAME)
    if fonts_with("口") and fonts_with("罩"):  # a CJK font is installed: the name as it is
        assert title.get_text() == f"images/{CJK_NAME}"
    else:  # none: the two CJK characters alone escaped, the rest readable
        assert title.get_text() == "images/маска \\u53e3\\u7f69 été.jpg"


def test_a_character_the_default_font_lacks_is_drawn_from_an_installed_font_that_has_it(tmp_path, drawn):
    # U+02EF (modifier letter low down arrowhead): not in DejaVu Sans, in DejaVu Serif (matplotlib ships both)
    character = "\u02ef"
    assert "DejaVu Sans" not in fonts_with(character) and "DejaVu Serif" in fonts_with(character)
    title = overlay_of(tmp_path, drawn, f"arrow{character}.jpg")
    assert title.get_text() == f"images/arrow{character}.jpg"
    assert "DejaVu Serif" in title.get_fontfamily()
