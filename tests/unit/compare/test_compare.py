"""maskflow compare and maskflow sweep on hand-made metrics.json and predictions files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.cli import main
from maskflow.evaluation.metrics import mcnemar_exact, split_metrics

CLASSES = ["good", "bad"]
N = 40


def write_model(
    models_dir: Path, name: str, correct: np.ndarray, spec: dict, kind: str = "model", seconds: float = 2.0
) -> None:
    """metrics.json + predictions_test.csv of a model that gets `correct` test samples right."""
    folder = models_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    truth = np.array([0, 1] * (N // 2))
    predicted = np.where(correct, truth, 1 - truth)
    frame = pd.DataFrame(
        {
            "row_id": [f"t:{i}" for i in range(N)],
            "true": [CLASSES[k] for k in truth],
            "predicted": [CLASSES[k] for k in predicted],
        }
    )
    frame.to_csv(folder / "predictions_test.csv", index=False)
    splits = {s: split_metrics(truth, predicted, CLASSES, predicted) for s in ("train", "val", "test")}
    document = {
        "model": name,
        "dataset": "d",
        "classes": CLASSES,
        "kind": kind,
        "splits": splits,
        "spec": {"name": name, "kind": kind, **spec},
        "training": {"param_count": 100, "best_epoch": 3, "epoch": 5, "train_seconds": seconds},
    }
    (folder / "metrics.json").write_text(json.dumps(document))


CNN_SPEC = {
    "arch": {"type": "cnn", "blocks": [{"channels": 8, "kernel": 3, "pool": 2}], "head": [16]},
    "train": {
        "optimizer": "adam",
        "lr": 0.001,
        "batch_size": 32,
        "epochs": 5,
        "imbalance": {"method": "none"},
        "augment": {"hflip": True, "rotate": 0},
        "early_stopping": None,
    },
}


@pytest.fixture
def compared(tmp_path):
    rng = np.random.default_rng(0)
    models = tmp_path / "models"
    base = {seed: rng.random(N) < 0.6 for seed in (1, 2)}
    better = rng.random(N) < 0.95
    write_model(models, "base-s1", base[1], {**CNN_SPEC, "group": "base", "seed": 1}, seconds=2.0)
    write_model(models, "base-s2", base[2], {**CNN_SPEC, "group": "base", "seed": 2}, seconds=4.0)
    write_model(models, "wide", better, {**CNN_SPEC, "group": "wide", "seed": 2})
    write_model(models, "ens", better, {"group": "ens", "members": ["base-s1", "wide"]}, kind="ensemble")
    names = ["base-s1", "base-s2", "wide", "ens"]
    args = [
        "compare",
        "--dataset",
        "d",
        "--baseline",
        "base",
        "--metrics",
        *[str(models / n / "metrics.json") for n in names],
        "--predictions",
        *[str(models / n / "predictions_test.csv") for n in names],
        "--table",
        str(tmp_path / "comparison.csv"),
        "--groups",
        str(tmp_path / "groups.csv"),
        "--plot",
        str(tmp_path / "comparison.png"),
    ]
    main(args)
    return tmp_path, base, better


def test_one_row_per_model_with_settings_and_scores(compared):
    tmp_path, base, better = compared
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert table["model"].tolist() == ["base-s1", "base-s2", "wide", "ens"]
    wide = table.set_index("model").loc["wide"]
    assert wide["arch"] == "cnn 8k3p2 fc 16" and wide["optimizer"] == "adam" and wide["augment"] == "hflip"
    assert wide["test_accuracy"] == pytest.approx(better.mean())
    assert wide["param_count"] == 100 and wide["best_epoch"] == 3
    assert table.set_index("model").loc["ens", "arch"] == "ensemble of base-s1 + wide"


def test_mcnemar_is_against_the_baseline_replicate_with_the_same_seed(compared):
    tmp_path, base, better = compared
    table = pd.read_csv(tmp_path / "comparison.csv").set_index("model")
    assert table.loc["wide", "baseline"] == "base-s2"  # wide has seed 2
    expected = mcnemar_exact(base[2], better)
    assert table.loc["wide", "mcnemar_p"] == pytest.approx(expected["p_value"])
    assert table.loc["wide", "mcnemar_baseline_only"] == expected["a_only"]
    assert table.loc["wide", "mcnemar_model_only"] == expected["b_only"]
    assert table.loc["ens", "baseline"] == "base-s1"  # no seed: the first replicate
    assert pd.isna(table.loc["base-s1", "mcnemar_p"]) and pd.isna(table.loc["base-s2", "mcnemar_p"])


def test_replicates_are_summarised_by_mean_and_std(compared):
    tmp_path, base, _ = compared
    groups = pd.read_csv(tmp_path / "groups.csv").set_index("group")
    accuracies = [base[1].mean(), base[2].mean()]
    assert groups.loc["base", "n_runs"] == 2
    assert groups.loc["base", "test_accuracy_mean"] == pytest.approx(np.mean(accuracies))
    assert groups.loc["base", "test_accuracy_std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert groups.loc["base", "train_seconds_mean"] == pytest.approx(3.0)
    assert pd.isna(groups.loc["wide", "test_accuracy_std"])  # one run: no std
    with Image.open(tmp_path / "comparison.png") as image:
        assert image.format == "PNG" and image.width > 400


def test_an_unknown_baseline_is_refused(tmp_path, compared, capsys):
    models = tmp_path / "models"
    with pytest.raises(SystemExit) as stop:
        main(
            [
                "compare",
                "--dataset",
                "d",
                "--baseline",
                "nope",
                "--metrics",
                str(models / "wide" / "metrics.json"),
                "--predictions",
                str(models / "wide" / "predictions_test.csv"),
                "--table",
                str(tmp_path / "t.csv"),
                "--groups",
                str(tmp_path / "g.csv"),
                "--plot",
                str(tmp_path / "p.png"),
            ]
        )
    assert stop.value.code == 2 and "baseline 'nope'" in capsys.readouterr().err


# --------------------------------------------------------------------------- sweeps


def write_sweep_model(models: Path, name: str, values: dict, accuracy: float) -> None:
    correct = np.arange(N) < round(accuracy * N)
    write_model(models, name, correct, {**CNN_SPEC, "group": name, "seed": 1, "sweep": "grid", "sweep_values": values})
    pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "train_loss": [1, 0.8, 0.6],
            "train_acc": [0.5, 0.6, accuracy],
            "val_loss": [1.1, 0.9, 0.8],
            "val_acc": [0.5, 0.55, accuracy],
            "lr": 0.1,
            "seconds": 1,
        }
    ).to_csv(models / name / "history.csv", index=False)


@pytest.mark.parametrize(
    "grid",
    [
        {"train.lr": [0.001, 0.01, 0.1]},
        {"train.lr": [0.01, 0.1], "train.batch_size": [16, 64]},
        {"train.lr": [0.01], "train.batch_size": [16, 64], "train.optimizer": ["sgd", "adam"]},
    ],
)
def test_sweep_table_and_plots(tmp_path, grid):
    import itertools

    models = tmp_path / "models"
    names = []
    for i, values in enumerate(itertools.product(*grid.values())):
        name = f"grid-{i}"
        write_sweep_model(models, name, dict(zip(grid, values)), 0.5 + 0.05 * i)
        names.append(name)
    out = {
        key: tmp_path / f"grid{suffix}"
        for key, suffix in (("table", ".csv"), ("plot", ".png"), ("curves", "_curves.png"))
    }
    main(
        [
            "sweep",
            "--sweep",
            "grid",
            "--metrics",
            *[str(models / n / "metrics.json") for n in names],
            "--histories",
            *[str(models / n / "history.csv") for n in names],
            "--table",
            str(out["table"]),
            "--plot",
            str(out["plot"]),
            "--curves",
            str(out["curves"]),
        ]
    )
    table = pd.read_csv(out["table"])
    assert table["model"].tolist() == names
    assert list(table.columns[1 : 1 + len(grid)]) == list(grid)
    assert table["test_accuracy"].tolist() == pytest.approx([0.5 + 0.05 * i for i in range(len(names))])
    for key in ("plot", "curves"):
        with Image.open(out[key]) as image:
            assert image.format == "PNG" and image.width > 400


def test_a_model_outside_the_sweep_is_refused(tmp_path, capsys):
    models = tmp_path / "models"
    write_model(models, "other", np.ones(N, bool), {**CNN_SPEC, "group": "other", "seed": 1})
    pd.DataFrame({"epoch": [1], "train_loss": [1], "train_acc": [1], "val_loss": [1], "val_acc": [1]}).to_csv(
        models / "other" / "history.csv", index=False
    )
    with pytest.raises(SystemExit) as stop:
        main(
            [
                "sweep",
                "--sweep",
                "grid",
                "--metrics",
                str(models / "other" / "metrics.json"),
                "--histories",
                str(models / "other" / "history.csv"),
                "--table",
                str(tmp_path / "t.csv"),
                "--plot",
                str(tmp_path / "p.png"),
                "--curves",
                str(tmp_path / "c.png"),
            ]
        )
    assert stop.value.code == 2 and "not part of sweep 'grid'" in capsys.readouterr().err


# --------------------------------------------------------------------------- figures show the differences


def _texts(figure) -> list[str]:
    return [t.get_text() for ax in figure.axes for t in ax.texts]


def test_comparison_plot_zooms_to_the_scores_and_labels_them(compared):
    from maskflow.compare.table import build_tables, plot_groups

    tmp_path, _, _ = compared
    names = ["base-s1", "base-s2", "wide", "ens"]
    rows, groups = build_tables(
        [str(tmp_path / "models" / n / "metrics.json") for n in names],
        [str(tmp_path / "models" / n / "predictions_test.csv") for n in names],
        "base",
    )
    figure = plot_groups(rows, groups, "d", "base")
    low, high = figure.axes[0].get_xlim()
    scores = pd.to_numeric(rows["test_accuracy"]).to_numpy()
    # Zoomed: the axis starts near the lowest score, not at 0, and still shows the highest.
    assert 0 < low <= scores.min() and high >= scores.max()
    assert low > scores.min() - 0.2
    for mean in groups["test_accuracy_mean"]:
        assert f"{mean:.3f}" in _texts(figure)


def _sweep_table(values: list, scores: list[float]) -> pd.DataFrame:
    from maskflow.compare.sweep import SCORES

    return pd.DataFrame({"model": [f"m{i}" for i in range(len(values))], "k": values, **{s: scores for s in SCORES}})


@pytest.mark.parametrize("values", [["[64, 32]", "[512, 256]", "[32, 16]"], [0.5, 0.05, 0.005]])
def test_one_key_sweep_plot_is_zoomed_to_close_scores(values):
    from maskflow.compare.sweep import plot_sweep

    # the digits dnn_hidden sweep: 0.956 against 0.978 is the whole point of the figure
    figure = plot_sweep(_sweep_table(values, [0.956, 0.978, 0.961]), ["k"], "s")
    low, high = figure.axes[0].get_ylim()
    assert 0.9 < low <= 0.956 and 0.978 <= high < 1.0
    assert {"0.956", "0.978", "0.961"} <= set(_texts(figure))


def test_many_key_sweep_bars_are_zoomed_and_labelled():
    from maskflow.compare.sweep import plot_sweep

    table = _sweep_table([1, 2], [0.956, 0.978])
    table["j"], table["l"] = ["a", "b"], ["c", "d"]
    figure = plot_sweep(table, ["k", "j", "l"], "s")
    low, high = figure.axes[0].get_xlim()
    assert 0.9 < low <= 0.956 and high >= 0.978
    assert {"0.956", "0.978"} <= set(_texts(figure))


def test_two_key_sweep_heat_map_colours_span_the_data():
    from maskflow.compare.sweep import plot_sweep

    table = _sweep_table([1, 1, 2, 2], [0.956, 0.978, 0.96, 0.97])
    table["j"] = ["a", "b", "a", "b"]
    figure = plot_sweep(table, ["k", "j"], "s")
    assert figure.axes[0].images[0].get_clim() == pytest.approx((0.956, 0.978))


def test_overlaid_curves_put_loss_on_a_log_axis_and_mark_a_diverged_run():
    from maskflow.compare.sweep import plot_curves

    def history(loss):
        return pd.DataFrame(
            {"epoch": [1, 2, 3], "train_loss": loss, "val_loss": loss, "train_acc": 0.5, "val_acc": 0.5}
        )

    histories = {"calm": history([0.9, 0.5, 0.3]), "wild": history([2.3, 47000.0, 900.0])}
    figure = plot_curves(histories, {"calm": "lr=0.05", "wild": "lr=0.5"}, "lr")
    loss_axis = figure.axes[0]
    assert loss_axis.get_yscale() == "log"
    # the calm run's range is not squashed: the axis reaches down to its smallest loss
    assert loss_axis.get_ylim()[0] <= 0.3
    legend = [t.get_text() for t in figure.axes[1].get_legend().get_texts()]
    assert "lr=0.5 (diverged) val" in legend and "lr=0.05 val" in legend


def test_diverged_means_a_blow_up_or_a_non_finite_loss():
    from maskflow.figures.scales import diverged

    assert diverged([2.3, 47000.0]) and diverged([1.0, float("nan")]) and diverged([1.0, float("inf")])
    assert not diverged([2.3, 1.0, 0.4]) and not diverged([1.0, 5.0])


def test_descriptions_come_from_the_option_and_others_stay_empty(compared, tmp_path):
    out, _, _ = compared
    models = out / "models"
    names = ["base-s1", "wide"]
    main(
        [
            "compare", "--dataset", "d", "--baseline", "base",
            "--descriptions", json.dumps({"wide": "twice the channels, 'quoted', 50%"}),
            "--metrics", *[str(models / n / "metrics.json") for n in names],
            "--predictions", *[str(models / n / "predictions_test.csv") for n in names],
            "--table", str(tmp_path / "t.csv"), "--groups", str(tmp_path / "g.csv"), "--plot", str(tmp_path / "p.png"),
        ]
    )  # fmt: skip
    table = pd.read_csv(tmp_path / "t.csv", keep_default_na=False).set_index("model")
    assert table.loc["wide", "description"] == "twice the channels, 'quoted', 50%"
    assert table.loc["base-s1", "description"] == ""


@pytest.mark.workflow
def test_the_workflows_comparison_carries_each_models_config_description(tiny_run):
    import yaml

    from helpers import TINY_CONFIG

    config = yaml.safe_load(TINY_CONFIG.read_text())
    table = pd.read_csv(tiny_run / "results" / "masks" / "comparison.csv", keep_default_na=False).set_index("model")
    assert config["models"]["seq"]["description"]  # the tiny config describes this one
    assert table.loc["seq", "description"] == config["models"]["seq"]["description"]
    assert table.loc["mlp", "description"] == ""
