"""maskflow figure: every figure family rendered from real files (metrics, history, cached
arrays, JPEG photos, a contract-format checkpoint) to a real PNG, plus the pieces they
compute (saliency gradients, conv layers, projections, photo order)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from maskflow.cli import main
from maskflow.errors import ConfigError
from maskflow.evaluation.metrics import split_metrics
from maskflow.figures.command import FigureJob
from maskflow.figures.common import class_colors
from maskflow.figures.families import FAMILIES, all_names, parse_name

from helpers.evaluation import CLASSES, MLP_2D, write_cache, write_checkpoint, write_numpy_checkpoint

SPEC = json.dumps(
    {"name": "m", "classes": CLASSES, "figures": {"misclassified": 8, "overlays": 2, "saliency_per_class": 2}}
)


def figure(out: Path, name: str, **inputs) -> int:
    args = ["figure", name, "--out", str(out), "--spec", SPEC]
    for key, value in inputs.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    try:
        main(args)
    except SystemExit as stop:
        return int(stop.code)
    return 0


def assert_png(path: Path, min_width: int = 300) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= 100
        return np.asarray(image.convert("RGB"))


@pytest.fixture
def metrics_file(tmp_path):
    rng = np.random.default_rng(0)
    splits = {}
    for split, n in {"train": 40, "val": 0, "test": 20}.items():
        y = rng.integers(0, 3, n)
        p = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
        splits[split] = split_metrics(y, p, CLASSES, p)
    path = tmp_path / "metrics.json"
    path.write_text(
        json.dumps(
            {
                "model": "m",
                "dataset": "masks",
                "classes": CLASSES,
                "kind": "model",
                "splits": splits,
                "training": {"best_epoch": 3},
            }
        )
    )
    return path


def test_every_figure_name_parses_and_unknown_names_are_refused():
    for name in all_names():
        family, split = parse_name(name)
        assert family in FAMILIES and (split is None) == (not FAMILIES[family].per_split)
    assert parse_name("confusion_matrix_test") == ("confusion_matrix", "test")
    with pytest.raises(ConfigError, match="known figures"):
        parse_name("confusion_matrix_holdout")
    with pytest.raises(ConfigError):
        parse_name("saliency_test")


def test_confusion_and_per_class_from_metrics(tmp_path, metrics_file):
    assert figure(tmp_path / "cm.png", "confusion_matrix_test", metrics=metrics_file) == 0
    assert_png(tmp_path / "cm.png", 600)
    # an empty split is drawn as a message, not an error
    assert figure(tmp_path / "cm_val.png", "confusion_matrix_val", metrics=metrics_file) == 0
    assert_png(tmp_path / "cm_val.png")
    assert figure(tmp_path / "pc.png", "per_class_accuracy", metrics=metrics_file) == 0
    assert_png(tmp_path / "pc.png")


def test_learning_curves_from_history(tmp_path, metrics_file):
    history = tmp_path / "history.csv"
    pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "train_loss": [1.0, 0.7, 0.5, 0.4],
            "train_acc": [0.5, 0.6, 0.7, 0.8],
            "val_loss": [1.1, 0.8, 0.7, 0.75],
            "val_acc": [0.4, 0.55, 0.6, 0.58],
            "lr": 0.01,
            "seconds": 1.0,
        }
    ).to_csv(history, index=False)
    assert figure(tmp_path / "lc.png", "learning_curves", history=history, metrics=metrics_file) == 0
    assert_png(tmp_path / "lc.png", 600)


def test_learning_curves_read_a_history_without_val_and_refuse_a_broken_cell(tmp_path, metrics_file, capsys):
    """history.csv is read with the csv module (no pandas in a figure job): empty val cells are
    gaps, a cell that is not a number is named with its line and column."""
    history = tmp_path / "history.csv"
    history.write_text("epoch,train_loss,train_acc,val_loss,val_acc\n1,1.0,0.5,,\n2,0.7,0.6,,\n")
    assert figure(tmp_path / "lc.png", "learning_curves", history=history, metrics=metrics_file) == 0
    assert_png(tmp_path / "lc.png", 600)
    history.write_text("epoch,train_loss,train_acc,val_loss,val_acc\n1,1.0,0.5,0.9,0.4\n2,oops,0.6,0.8,0.5\n")
    assert figure(tmp_path / "bad.png", "learning_curves", history=history, metrics=metrics_file) == 2
    assert f"{history}, line 3: train_loss is 'oops', not a number" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_a_missing_input_is_named(tmp_path, capsys):
    assert (
        figure(tmp_path / "x.png", "learning_curves", history=tmp_path / "nope.csv", metrics=tmp_path / "nope.json")
        == 2
    )
    assert "nope.csv" in capsys.readouterr().err
    assert figure(tmp_path / "x.png", "per_class_accuracy") == 2
    assert "--metrics" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def write_predictions(path: Path, truth: list[str], predicted: list[str], confidence, photos=None, boxes=None) -> Path:
    n = len(truth)
    photos = photos or ["images/a.jpg"] * n
    boxes = boxes or [(0, 0, 10, 10)] * n
    frame = pd.DataFrame(
        {
            "row_id": [f"test.csv:{i + 1}" for i in range(n)],
            "photo": photos,
            "xmin": [b[0] for b in boxes],
            "ymin": [b[1] for b in boxes],
            "xmax": [b[2] for b in boxes],
            "ymax": [b[3] for b in boxes],
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


def test_misclassified_gallery(tmp_path):
    cache_dir = write_cache(tmp_path / "cache", counts={"train": 5, "val": 2, "test": 6})
    truth = ["good", "bad", "none", "good", "bad", "good"]
    predicted = ["good", "good", "good", "bad", "bad", "good"]
    predictions = write_predictions(tmp_path / "p.csv", truth, predicted, [0.9, 0.8, 0.7, 0.95, 0.6, 0.5])
    assert figure(tmp_path / "mis.png", "misclassified_test", predictions=predictions, cache_dir=cache_dir) == 0
    assert_png(tmp_path / "mis.png")
    # no mistakes: a message figure
    predictions = write_predictions(tmp_path / "p.csv", truth, truth, [0.9] * 6)
    assert figure(tmp_path / "none.png", "misclassified_test", predictions=predictions, cache_dir=cache_dir) == 0
    # crops and rows that do not pair up are an error, not a wrong gallery
    predictions = write_predictions(tmp_path / "p.csv", truth[:3], predicted[:3], [0.9] * 3)
    assert figure(tmp_path / "bad.png", "misclassified_test", predictions=predictions, cache_dir=cache_dir) == 2


def _colour_pixels(pixels: np.ndarray, colour) -> int:
    target = np.asarray(colour) * 255
    return int((np.abs(pixels.astype(float) - target).max(axis=2) < 12).sum())


def test_overlays_draw_every_box_in_its_predicted_colour(tmp_path):
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (320, 240), (200, 200, 200)).save(raw / "images" / name, quality=90)
    boxes = [(10, 10, 90, 90), (120, 30, 200, 110), (40, 40, 140, 140)]
    photos = ["images/a.jpg", "images/a.jpg", "images/b.jpg"]
    truth = ["good", "bad", "good"]
    predictions = write_predictions(tmp_path / "p.csv", truth, ["bad", "bad", "bad"], [0.9, 0.8, 0.7], photos, boxes)
    annotations = pd.read_csv(predictions)[["row_id", "photo", "xmin", "ymin", "xmax", "ymax"]].assign(
        label=truth, split="test"
    )
    annotations.to_csv(tmp_path / "annotations.csv", index=False)
    out = tmp_path / "ov.png"
    assert (
        figure(out, "overlays_test", predictions=predictions, raw_dir=raw, annotations=tmp_path / "annotations.csv")
        == 0
    )
    pixels = assert_png(out, 500)
    colours = dict(zip(CLASSES, class_colors(3)))
    assert _colour_pixels(pixels, colours["bad"]) > 500  # every box predicted bad: orange frames
    good_pixels_with_legend_only = _colour_pixels(pixels, colours["good"])
    assert good_pixels_with_legend_only < 400  # only the legend patch is blue


def explained(tmp_path: Path, cache_dir: Path, arch=None, name: str = "m") -> tuple[Path, Path]:
    """(checkpoint, explanations.npz) of a seeded untrained model, through `maskflow evaluate`."""
    from helpers.cli import evaluate_args

    model_dir = tmp_path / name
    path = write_checkpoint(model_dir / "checkpoint.pt", cache_dir, **({"arch": arch} if arch else {}))
    main(evaluate_args(model_dir, cache_dir))
    return path, model_dir / "explanations.npz"


def test_saliency_gradients_belong_to_the_predicted_class(tmp_path):
    from maskflow.evaluation.explain import SALIENCY_KEPT, pick_per_class, saliency_maps
    from maskflow.inference import predict_proba
    from maskflow.models.checkpoint import load_model

    cache_dir = write_cache(tmp_path / "cache", counts={"train": 30, "val": 12, "test": 40})
    path, explanations = explained(tmp_path, cache_dir)
    model, ckpt = load_model(path, "cpu")
    crops = np.load(cache_dir / "test_x.npy")[:5]
    maps, predicted, confidence = saliency_maps(model, ckpt, crops)
    proba = predict_proba(model, ckpt, crops, "cpu")
    assert maps.shape == (5, 12, 12)
    assert maps.max() == pytest.approx(1.0) and maps.min() >= 0
    np.testing.assert_array_equal(predicted, proba.argmax(1))
    np.testing.assert_allclose(confidence, proba.max(1), rtol=1e-5)
    labels = np.array([0, 1, 0, 0, 2, 1])
    assert [p.tolist() for p in pick_per_class(labels, 4, 2)] == [[0, 2], [1, 5], [4], []]

    # evaluate kept the first SALIENCY_KEPT test crops of each class, with these same maps
    test_y = np.load(cache_dir / "test_y.npy")
    with np.load(explanations) as data:
        kept = data["saliency_index"]
        expected = np.sort(np.concatenate(pick_per_class(test_y, 3, SALIENCY_KEPT)))
        np.testing.assert_array_equal(kept, expected)
        assert len(kept) < len(test_y)  # 40 test crops, 10 a class at most
        np.testing.assert_array_equal(data["saliency_label"], test_y[kept])
        np.testing.assert_array_equal(data["saliency_crop"], np.load(cache_dir / "test_x.npy")[kept])
        again, predicted, confidence = saliency_maps(model, ckpt, data["saliency_crop"])
        np.testing.assert_allclose(data["saliency_map"], again, atol=1e-6)
        np.testing.assert_array_equal(data["saliency_predicted"], predicted)
    assert figure(tmp_path / "sal.png", "saliency", explanations=explanations) == 0
    assert_png(tmp_path / "sal.png")


def test_a_numpy_mlp_has_the_saliency_of_its_torch_twin(tmp_path):
    """The NumPy MLP's input gradient, by its own chain rule, is torch autograd's on its twin."""
    from maskflow.evaluation.explain import numpy_saliency_maps, saliency_maps
    from maskflow.models.checkpoint import load_model
    from maskflow.models.numpy_mlp.network import init_params

    cache_dir = write_cache(tmp_path / "cache")
    for activation in ("relu", "tanh", "sigmoid"):
        arch = {"type": "numpy_mlp", "hidden": [16, 8], "activation": activation, "dtype": "float64"}
        state = init_params([12 * 12 * 3, 16, 8, 3], {}, np.random.default_rng(3), dtype=np.float64)
        path = write_numpy_checkpoint(tmp_path / activation / "checkpoint.pt", cache_dir, arch, state)
        model, ckpt = load_model(path, "cpu")
        crops = np.load(cache_dir / "test_x.npy")
        ours, predicted, confidence = numpy_saliency_maps(ckpt, crops)
        twin_maps, twin_predicted, twin_confidence = saliency_maps(model, ckpt, crops)
        np.testing.assert_array_equal(predicted, twin_predicted)
        np.testing.assert_allclose(ours, twin_maps, atol=1e-5)
        np.testing.assert_allclose(confidence, twin_confidence, rtol=1e-6)
        assert ours.shape == (len(crops), 12, 12) and ours.max() == pytest.approx(1.0)


def test_filters_and_last_conv_activations(tmp_path):
    from torch import nn

    from maskflow.evaluation.explain import conv_layers, last_conv_maps
    from maskflow.figures.filters import filter_images
    from maskflow.models.checkpoint import load_model

    cache_dir = write_cache(tmp_path / "cache")
    path, explanations = explained(tmp_path, cache_dir)
    model, ckpt = load_model(path, "cpu")
    first, tapped = conv_layers(model)
    assert isinstance(first, nn.Conv2d) and first.out_channels == 4
    assert isinstance(tapped, nn.ReLU)  # the activation after the last conv, not the conv itself
    images = filter_images(first.weight.detach().numpy())
    assert images.shape == (4, 3, 3, 3) and images.min() == 0 and images.max() == 1
    with np.load(explanations) as data:  # what evaluate kept: these kernels, crop 0 and its maps
        np.testing.assert_array_equal(data["first_conv_weight"], first.weight.detach().numpy())
        crop = np.load(cache_dir / "test_x.npy")[0]
        np.testing.assert_array_equal(data["probe_crop"], crop)
        np.testing.assert_allclose(data["probe_maps"], last_conv_maps(model, ckpt, crop, tapped), atol=1e-6)
        assert data["probe_maps"].shape[0] == 6  # every channel of the last conv
    assert figure(tmp_path / "f.png", "filters", explanations=explanations) == 0
    assert_png(tmp_path / "f.png")
    # an MLP has no convolution: a message instead of a crash
    _, mlp = explained(tmp_path, cache_dir, arch=MLP_2D, name="mlp")
    assert figure(tmp_path / "f2.png", "filters", explanations=mlp) == 0


def test_a_damaged_explanations_file_is_named_in_one_line(tmp_path, capsys):
    cache_dir = write_cache(tmp_path / "cache")
    _, explanations = explained(tmp_path, cache_dir)
    capsys.readouterr()
    explanations.write_bytes(explanations.read_bytes()[:-200])  # cut short, as by a full disk
    for name in ("saliency", "filters", "filter_maximization"):
        assert figure(tmp_path / f"{name}.png", name, explanations=explanations) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(explanations) in err and "maskflow evaluate" in err, err
        assert not (tmp_path / f"{name}.png").exists()
    np.savez(explanations, classes=np.array(CLASSES))  # an npz, but not explanations
    assert figure(tmp_path / "s.png", "saliency", explanations=explanations) == 2
    assert "maskflow-explanations/1" in capsys.readouterr().err


def test_saliency_per_class_beyond_what_evaluate_keeps_is_refused(tmp_path, capsys):
    cache_dir = write_cache(tmp_path / "cache")
    _, explanations = explained(tmp_path, cache_dir)
    spec = json.dumps({"name": "m", "classes": CLASSES, "figures": {"saliency_per_class": 11}})
    args = ["figure", "saliency", "--explanations", str(explanations), "--spec", spec, "--out", str(tmp_path / "s.png")]
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and "saliency_per_class" in err and "10" in err and err.count("\n") == 0


def test_latent_from_snapshots_and_from_the_final_model(tmp_path):
    from maskflow.figures.latent import project, snapshots

    cache_dir = write_cache(tmp_path / "cache")
    path = write_checkpoint(tmp_path / "m" / "checkpoint.pt", cache_dir)
    rng = np.random.default_rng(0)
    labels = np.load(cache_dir / "val_y.npy")
    latent = tmp_path / "latent.npz"
    np.savez(
        latent,
        epochs=np.array([1, 2]),
        features_e1=rng.normal(size=(12, 8)).astype(np.float32),
        features_e2=rng.normal(size=(12, 8)).astype(np.float32),
        labels=labels,
    )
    job = FigureJob(
        "latent",
        "latent",
        None,
        json.loads(SPEC),
        {"latent": str(latent), "checkpoint": str(path), "cache_dir": str(cache_dir)},
    )
    shots, got_labels = snapshots(job)
    assert [label for label, _ in shots] == ["epoch 1", "epoch 2"]
    np.testing.assert_array_equal(got_labels, labels)
    assert figure(tmp_path / "lat.png", "latent", latent=latent, checkpoint=path, cache_dir=cache_dir) == 0
    assert_png(tmp_path / "lat.png", 600)
    # no snapshot saved: the final model's penultimate features (2 units: plotted as they are)
    mlp = write_checkpoint(tmp_path / "mlp" / "checkpoint.pt", cache_dir, arch=MLP_2D)
    empty = tmp_path / "empty.npz"
    np.savez(empty, epochs=np.zeros(0, dtype=int), labels=np.zeros(0, dtype=int))
    job = FigureJob(
        "latent",
        "latent",
        None,
        json.loads(SPEC),
        {"latent": str(empty), "checkpoint": str(mlp), "cache_dir": str(cache_dir)},
    )
    shots, _ = snapshots(job)
    assert len(shots) == 1 and shots[0][1].shape == (12, 2) and shots[0][0].startswith("final model")
    assert figure(tmp_path / "lat2.png", "latent", latent=empty, checkpoint=mlp, cache_dir=cache_dir) == 0
    # projections: seeded (identical twice), None when too few points
    features = rng.normal(size=(30, 5))
    np.testing.assert_array_equal(project(features, "tsne", 30.0), project(features, "tsne", 30.0))
    assert project(features[:3], "tsne", 30.0) is None and project(features[:1], "pca", 30.0) is None


def test_photo_order_puts_mistakes_first():
    from maskflow.figures.galleries import _photo_order

    rows = [
        {"photo": photo, "true": "x", "predicted": predicted}
        for photo, predicted in zip(["a", "a", "b", "c", "c", "c", "d", "d"], ["x", "x", "y", "x", "y", "y", "x", "y"])
    ]
    # most mistakes first (c), then most boxes among equals (d before b), then by name
    assert _photo_order(rows) == ["c", "d", "b", "a"]


def test_gray_crops_render_in_every_model_figure(tmp_path):
    """FER/digits-style data: 1-channel 8x8 crops through saliency, filters, latent and the gallery."""
    cache_dir = write_cache(tmp_path / "cache", size=8, channels=1)
    path, explanations = explained(tmp_path, cache_dir)
    latent = tmp_path / "latent.npz"
    np.savez(latent, epochs=np.zeros(0, dtype=int), labels=np.zeros(0, dtype=int))
    for name in ("saliency", "filters", "filter_maximization"):
        assert figure(tmp_path / f"{name}.png", name, explanations=explanations) == 0
        assert_png(tmp_path / f"{name}.png")
    assert figure(tmp_path / "latent.png", "latent", latent=latent, checkpoint=path, cache_dir=cache_dir) == 0
    assert_png(tmp_path / "latent.png")
    truth = [CLASSES[k] for k in np.load(cache_dir / "test_y.npy")]
    predictions = write_predictions(tmp_path / "p.csv", truth, ["none"] * len(truth), [0.5] * len(truth))
    assert figure(tmp_path / "mis.png", "misclassified_test", predictions=predictions, cache_dir=cache_dir) == 0
    assert_png(tmp_path / "mis.png")


def test_filter_maximization_finds_inputs_that_raise_each_sampled_filter(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.image import AxesImage

    from maskflow.evaluation.explain import conv_layers, maximize, sample_filters
    from maskflow.figures.command import FigureJob, render
    from maskflow.models.checkpoint import load_model

    sequential = {
        "type": "sequential",
        "layers": [
            {"type": "conv2d", "channels": 4, "padding": 1},
            {"type": "relu"},
            {"type": "max_pool"},
            {"type": "conv2d", "channels": 12, "padding": 1},
            {"type": "batch_norm"},
            {"type": "leaky_relu", "slope": 0.1},
            {"type": "global_avg_pool"},
        ],
    }
    cache_dir = write_cache(tmp_path / "cache")
    path, explanations = explained(tmp_path, cache_dir, arch=sequential)
    model, ckpt = load_model(path, "cpu")
    _, tapped = conv_layers(model)

    # 12 filters: a seeded sample of 8, the same for the same seed
    assert sample_filters(12, seed=1) == sample_filters(12, seed=1) != sample_filters(12, seed=2)
    assert len(sample_filters(12, seed=1)) == 8 and sample_filters(3, seed=1) == [0, 1, 2]
    filters = [0, 5, 11]
    inputs, start, end = maximize(model, ckpt, tapped, filters, seed=1, steps=30)
    assert inputs.shape == (3, 3, 12, 12)
    assert np.all(end > start + 0.1)  # gradient ascent raised every filter's mean activation
    again, _, end_again = maximize(model, ckpt, tapped, filters, seed=1, steps=30)
    assert np.array_equal(inputs, again) and np.array_equal(end, end_again)  # seeded
    assert all(p.requires_grad for p in model.parameters())  # the weights are left trainable

    shown = sample_filters(12, seed=int(ckpt["seed"]))
    with np.load(explanations) as data:  # evaluate ran the same search on the seeded sample
        np.testing.assert_array_equal(data["maximization_filters"], shown)
        np.testing.assert_allclose(
            data["maximization_input"], maximize(model, ckpt, tapped, shown, seed=int(ckpt["seed"]))[0], atol=1e-5
        )
    job = FigureJob(
        "filter_maximization", "filter_maximization", None, json.loads(SPEC), {"explanations": str(explanations)}
    )
    fig = render(job)
    try:
        top, bottom = fig.axes[: len(fig.axes) // 2], fig.axes[len(fig.axes) // 2 :]
        assert [ax.get_title().splitlines()[0] for ax in top[1:]] == [f"filter {c}" for c in shown]
        assert all(any(isinstance(a, AxesImage) for a in ax.get_children()) for ax in top[1:] + bottom)
        assert bottom[0].get_title().startswith("test crop 0")
        assert [ax.get_title().split(" (")[0] for ax in bottom[1:]] == [f"map {c}" for c in shown]
        # each title reports the activation before and after the ascent, and it rose
        for ax in top[1:]:
            before, after = map(float, ax.get_title().splitlines()[1].removeprefix("act ").split(" -> "))
            assert after > before
    finally:
        plt.close(fig)
    assert figure(tmp_path / "fm.png", "filter_maximization", explanations=explanations) == 0
    assert_png(tmp_path / "fm.png")
    _, mlp = explained(tmp_path, cache_dir, arch=MLP_2D, name="mlp")
    assert figure(tmp_path / "fm2.png", "filter_maximization", explanations=mlp) == 0


def test_the_maximization_adam_is_torch_adam_bit_for_bit():
    """explain.InputAdam (no torch.optim: it imports torch._dynamo) takes torch.optim.Adam's steps."""
    import torch

    from maskflow.evaluation.explain import InputAdam

    target = torch.linspace(-2, 3, 48).reshape(2, 3, 2, 4)
    ours = torch.zeros(2, 3, 2, 4, requires_grad=True)
    theirs = torch.zeros(2, 3, 2, 4, requires_grad=True)
    adam, reference = InputAdam(ours, 0.1), torch.optim.Adam([theirs], lr=0.1)
    for _ in range(25):
        for x in (ours, theirs):
            x.grad = None
            ((x - target) ** 4).sum().backward()
        adam.step()
        reference.step()
    assert torch.equal(ours, theirs) and not torch.equal(ours, torch.zeros_like(ours))


def test_an_empty_test_split_gives_explanations_and_figures_that_say_so(tmp_path):
    cache_dir = write_cache(tmp_path / "cache", counts={"train": 30, "val": 12, "test": 0})
    _, explanations = explained(tmp_path, cache_dir)
    with np.load(explanations) as data:
        assert data["saliency_index"].shape == (0,) and "probe_crop" not in data.files
        assert "maximization_input" in data.files  # the search needs no test crop
    for name in ("saliency", "filters", "filter_maximization"):
        assert figure(tmp_path / f"{name}.png", name, explanations=explanations) == 0
        assert_png(tmp_path / f"{name}.png")
