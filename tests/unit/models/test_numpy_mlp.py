"""The from-scratch NumPy MLP (maskflow.models.numpy_mlp): hand-written gradients against torch
autograd, accuracy on scikit-learn's real digits, the zero-initialisation symmetry, and the
torch twin used for evaluation."""

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from maskflow import inference, models
from maskflow.config import TRAIN_DEFAULTS, deep_merge
from maskflow.errors import CheckpointError, ConfigError
from maskflow.inference import predict_proba, proba_metrics
from maskflow.io.atomic import save_npy
from maskflow.io.hashing import sha256_file
from maskflow.models import checkpoint
from maskflow.models.numpy_mlp import network, twin
from maskflow.training import data as train_data
from maskflow.training import numpy_mlp as numpy_trainer
from maskflow.training import outputs as train_outputs
from maskflow.training import torch_trainer
from maskflow.training.outputs import Paths

SGD = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "batch_size": 32, "epochs": 30}


@pytest.fixture(scope="module")
def digits():
    """50/50 stratified, seeded split of the 1797 real 8x8 digits, laid out N x 1 x 8 x 8 in 0..1."""
    data = load_digits()
    x = data.images.reshape(-1, 1, 8, 8) / 16.0
    return train_test_split(x, data.target, test_size=0.5, stratify=data.target, random_state=0)


def _autograd(state, arch, x, y, label_smoothing):
    module = twin.to_torch(state, arch)
    loss = torch.nn.functional.cross_entropy(
        module(torch.from_numpy(x)), torch.from_numpy(y), label_smoothing=label_smoothing
    )
    loss.backward()
    linears = [m for m in module.hidden if isinstance(m, torch.nn.Linear)] + [module.output]
    grads = {}
    for i, linear in enumerate(linears):
        grads[f"w{i}"] = linear.weight.grad.numpy().T
        grads[f"b{i}"] = linear.bias.grad.numpy()
    return float(loss.detach()), grads


RELATIVE = 1e-14  # hand-written float64 gradients vs autograd: the README's figure


@pytest.mark.parametrize("activation", sorted(network.ACTIVATIONS))
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_gradients_match_torch_autograd_in_float64(activation, label_smoothing):
    rng = np.random.default_rng(3)
    arch = {"type": "numpy_mlp", "hidden": [7, 5], "activation": activation, "dtype": "float64"}
    state = network.init_params([12, 7, 5, 4], {"weights": "normal", "bias": "normal", "std": 0.8}, rng, np.float64)
    x = rng.normal(size=(9, 3, 2, 2))
    y = rng.integers(0, 4, size=9)

    loss, grads, _ = network.loss_and_grads(state, x, y, activation, label_smoothing)
    torch_loss, torch_grads = _autograd(state, arch, x, y, label_smoothing)

    # README: "checked against torch autograd to a relative error below 1e-14 in float64": the
    # worst measured over 20 seeds, every activation and smoothing, is 9e-16 (a few roundings of
    # float64's 2.2e-16); 1e-14 leaves room for another BLAS's summation order, no more.
    assert loss == pytest.approx(torch_loss, rel=RELATIVE)
    assert set(grads) == set(torch_grads) == set(state)
    for name, grad in grads.items():
        assert grad.shape == state[name].shape
        assert np.abs(grad).max() > 1e-6, f"{name}: gradient vanished, the comparison would prove nothing"
        relative = np.linalg.norm(grad - torch_grads[name]) / (np.linalg.norm(grad) + np.linalg.norm(torch_grads[name]))
        assert relative < RELATIVE, f"{activation} {name}: relative error {relative:.2e}"


def test_reaches_90_percent_on_real_digits_and_history_has_the_contract_columns(digits):
    x_train, x_test, y_train, y_test = digits
    arch = {"type": "numpy_mlp", "hidden": [64, 32], "activation": "relu"}
    seen = []
    fit = numpy_trainer.train(
        x_train, y_train, x_test, y_test, arch, SGD, seed=1, on_epoch=lambda e, row, state: seen.append(e)
    )

    probs = network.predict_proba(fit.state, x_test, arch)
    accuracy = (probs.argmax(axis=1) == y_test).mean()
    assert accuracy >= 0.90
    assert seen == list(range(1, 31)) and fit.best_epoch == 30
    assert [list(row) for row in fit.history[:1]] == [
        ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
    ]
    assert fit.history[-1]["train_loss"] < fit.history[0]["train_loss"] / 5
    assert fit.history[-1]["val_acc"] == pytest.approx(accuracy)


def test_training_is_deterministic_for_a_seed_and_differs_across_seeds(digits):
    x_train, x_test, y_train, y_test = digits
    arch = {"type": "numpy_mlp", "hidden": [16], "activation": "tanh"}
    spec = {**SGD, "epochs": 3}
    first = numpy_trainer.train(x_train, y_train, x_test, y_test, arch, spec, seed=5)
    again = numpy_trainer.train(x_train, y_train, x_test, y_test, arch, spec, seed=5)
    other = numpy_trainer.train(x_train, y_train, x_test, y_test, arch, spec, seed=6)
    for name in first.state:
        np.testing.assert_array_equal(first.state[name], again.state[name])
    assert not np.array_equal(first.state["w0"], other.state["w0"])


def test_zero_init_keeps_hidden_units_identical_and_learns_worse_than_random(digits):
    x_train, x_test, y_train, y_test = digits
    arch = {"type": "numpy_mlp", "hidden": [32, 16], "activation": "sigmoid", "dtype": "float64"}
    spec = {**SGD, "epochs": 30}
    zeros = numpy_trainer.train(
        x_train, y_train, x_test, y_test, arch, {**spec, "init": {"weights": "zeros", "bias": "zeros"}}, seed=1
    )
    xavier = numpy_trainer.train(
        x_train, y_train, x_test, y_test, arch, {**spec, "init": {"weights": "xavier", "bias": "zeros"}}, seed=1
    )

    # symmetry: every hidden unit of a layer receives the same gradient, so they never differ
    for name in ("w0", "w1"):
        columns = zeros.state[name]
        assert np.abs(columns - columns[:, :1]).max() < 1e-12, name
    assert np.abs(xavier.state["w0"] - xavier.state["w0"][:, :1]).max() > 0.1

    acc = {name: fit.history[-1]["val_acc"] for name, fit in (("zeros", zeros), ("xavier", xavier))}
    assert acc["xavier"] >= 0.90
    assert acc["zeros"] < acc["xavier"] - 0.3, acc


def test_torch_twin_gives_the_same_probabilities_and_features(digits):
    x_train, x_test, y_train, y_test = digits
    for dtype, tolerance in (("float64", 1e-12), ("float32", 1e-5)):
        arch = {"type": "numpy_mlp", "hidden": [20, 2], "activation": "tanh", "dtype": dtype}
        fit = numpy_trainer.train(x_train, y_train, x_test, y_test, arch, {**SGD, "epochs": 2}, seed=2)
        module = twin.to_torch(fit.state, arch)
        # the shared inference path feeds float32 N x C x H x W tensors
        x = torch.from_numpy(x_test.astype(np.float32))
        with torch.no_grad():
            torch_probs = torch.softmax(module(x).double(), dim=1).numpy()
            torch_features = module.features(x).double().numpy()
        np.testing.assert_allclose(
            torch_probs, network.predict_proba(fit.state, x_test.astype(np.float32), arch), atol=tolerance
        )
        np.testing.assert_allclose(
            torch_features, network.features(fit.state, x_test.astype(np.float32), arch), atol=tolerance
        )
        assert torch_features.shape == (len(x_test), 2)
        # a fresh twin built from the arch accepts the trained twin's state_dict (checkpoint reload)
        rebuilt = twin.build(arch, channels=1, size=8, num_classes=10)
        rebuilt.load_state_dict(module.state_dict())


def test_early_stopping_restores_the_best_epoch(digits):
    x_train, x_test, y_train, y_test = digits
    arch = {"type": "numpy_mlp", "hidden": [32], "activation": "relu"}
    # a learning rate this high makes validation loss bounce, so stopping must trigger
    spec = {
        **SGD,
        "lr": 0.5,
        "epochs": 40,
        "early_stopping": {"monitor": "val_loss", "patience": 2, "restore_best": True},
    }
    fit = numpy_trainer.train(x_train, y_train, x_test, y_test, arch, spec, seed=1)
    losses = [row["val_loss"] for row in fit.history]
    assert len(fit.history) < 40
    assert fit.best_epoch == 1 + int(np.argmin(losses))
    assert numpy_trainer.evaluate(fit.state, x_test, y_test, arch)[0] == pytest.approx(min(losses))


@pytest.mark.parametrize(
    "arch, train, key",
    [
        ({"type": "numpy_mlp", "activation": "gelu"}, {}, "activation"),
        ({"type": "numpy_mlp", "hidden": [0]}, {}, "hidden"),
        ({"type": "numpy_mlp", "blocks": []}, {}, "blocks"),
        ({"type": "numpy_mlp"}, {"augment": {"hflip": True}}, "train.augment"),
        ({"type": "numpy_mlp"}, {"imbalance": {"method": "weighted_loss"}}, "train.imbalance"),
    ],
)
def test_unsupported_settings_are_refused_naming_the_key(arch, train, key):
    with pytest.raises(ConfigError, match=key):
        numpy_trainer.check_spec(arch, train)


def _digits_cache(digits, tmp_path):
    """The digits halves as a cache (uint8 N x H x W x C) and its normalization.json."""
    x_train, x_val, y_train, y_val = digits
    cache = tmp_path / "cache"
    for split, x, y in (("train", x_train, y_train), ("val", x_val, y_val)):
        save_npy(cache / f"{split}_x.npy", np.rint(x.transpose(0, 2, 3, 1) * 255).astype(np.uint8))
        save_npy(cache / f"{split}_y.npy", y.astype(np.int64))
    train_x = np.load(cache / "train_x.npy") / 255.0
    normalization = tmp_path / "normalization.json"
    normalization.write_text(json.dumps({
        "mean": [float(train_x.mean())], "std": [float(train_x.std())], "scale": 255, "channels": 1, "size": 8,
        "computed_on": "train", "train_sha256": sha256_file(cache / "train_x.npy"),
    }))  # fmt: skip
    return cache, normalization


CLASSES = [str(d) for d in range(10)]


def _spec(hidden=(32, 2), dtype="float64", **train):
    arch = models.check_arch({"type": "numpy_mlp", "hidden": list(hidden), "activation": "tanh", "dtype": dtype})
    return {"name": "np", "seed": 3, "arch": arch, "train": deep_merge(TRAIN_DEFAULTS, {**SGD, **train})}


@pytest.fixture
def trained_stage(digits, tmp_path):
    """The train stage run on the digits: (cache dir, paths, the checkpoint dict it returned)."""
    cache, normalization = _digits_cache(digits, tmp_path)
    data = train_data.load_data(cache, normalization, CLASSES, device=None)
    names = ("checkpoint.pt", "history.csv", "latent.npz", "resume.pt", "architecture.txt")
    paths = Paths(*(tmp_path / name for name in names))
    saved = numpy_trainer.train_cached(_spec(epochs=8, latent_epochs=[1, 8]), data, paths)
    return cache, paths, saved


def test_train_stage_writes_outputs_that_reload_to_the_logged_metrics(digits, trained_stage):
    _, _, _, y_val = digits
    cache, paths, saved = trained_stage
    history = pd.read_csv(paths.history)
    assert history.columns.tolist() == train_outputs.HISTORY_COLUMNS and history["epoch"].tolist() == list(range(1, 9))
    ckpt = checkpoint.load_checkpoint(paths.checkpoint)
    assert ckpt["best_epoch"] == 8 and ckpt["param_count"] == 64 * 32 + 32 + 32 * 2 + 2 + 2 * 10 + 10
    val_x = np.load(cache / "val_x.npy")
    # exact: the logged metrics came through the same (NumPy) inference path
    proba = predict_proba(None, ckpt, val_x)
    assert proba_metrics(proba, y_val) == ckpt["val_metrics"] == saved["val_metrics"]
    assert ckpt["val_metrics"] == {"loss": history["val_loss"].iloc[-1], "accuracy": history["val_acc"].iloc[-1]}
    assert ckpt["val_metrics"]["accuracy"] > 0.5  # two hidden units after 8 epochs: learning, not chance
    # load_model gives the torch twin (for the figures); predictions still take the NumPy path
    model, ckpt = checkpoint.load_model(paths.checkpoint)
    assert isinstance(model, torch.nn.Module)
    assert proba_metrics(predict_proba(model, ckpt, val_x), y_val) == ckpt["val_metrics"]
    with torch.no_grad():
        twin_logits = model(
            torch.from_numpy(inference.normalize_numpy(val_x.transpose(0, 3, 1, 2), ckpt["normalization"]))
        )
    np.testing.assert_allclose(torch.softmax(twin_logits.double(), 1).numpy(), proba, atol=1e-12)
    latent = np.load(paths.latent)
    assert latent["epochs"].tolist() == [1, 8] and latent["features_e8"].shape == (len(y_val), 2)
    assert not np.allclose(latent["features_e1"], latent["features_e8"])
    assert not paths.resume.exists()
    # evaluate's integrity check accepts it: a finished run of this model with intact weights
    checkpoint.check_checkpoint(ckpt, model="np")


def test_numpy_checkpoint_is_a_plain_pickle_with_the_torch_checkpoints_fields(digits, tmp_path, trained_stage):
    cache, paths, saved = trained_stage
    assert not paths.checkpoint.read_bytes().startswith(checkpoint.ZIP_MAGIC)
    assert saved["weights_format"] == "numpy" and "torch" not in saved["versions"]
    ckpt = checkpoint.load_checkpoint(paths.checkpoint)
    for name, array in saved["model_state"].items():
        np.testing.assert_array_equal(ckpt["model_state"][name], array)
        assert ckpt["model_state"][name].dtype == array.dtype == np.float64
    # the same fields as the torch trainer's checkpoint (maskflow.training.torch_trainer.build_checkpoint)
    data = train_data.load_data(cache, tmp_path / "normalization.json", CLASSES, torch.device("cpu"))

    class Stand:  # what build_checkpoint reads of a torch run
        spec, history, epoch, train_seconds = saved["spec"], [], 8, 1.0
        model = twin.to_torch(saved["model_state"], saved["arch"])

        def output_state(self):
            return self.model.state_dict(), 8

    reference = torch_trainer.build_checkpoint(Stand(), data, complete=True)
    assert set(saved) - {"weights_format"} == set(reference)
    assert saved["param_count"] == reference["param_count"]


def test_history_is_written_as_pandas_writes_it(tmp_path):
    rows = [
        {"epoch": 1, "train_loss": 0.1 + 0.2, "train_acc": 1 / 3, "val_loss": float("nan"), "val_acc": float("nan"),
         "lr": 0.05, "seconds": 0.004},
        {"epoch": 2, "train_loss": 1e-17, "train_acc": 1.0, "val_loss": 2.5, "val_acc": 0.0, "lr": 5e-05, "seconds": 1.25},
    ]  # fmt: skip
    # both trainers write history.csv through this writer; pandas wrote the torch trainer's before
    train_outputs.write_history(tmp_path / "history.csv", rows)
    pandas = pd.DataFrame(rows, columns=train_outputs.HISTORY_COLUMNS).to_csv(index=False)
    assert (tmp_path / "history.csv").read_text() == pandas


def test_damaged_or_foreign_numpy_checkpoints_are_refused(trained_stage, tmp_path):
    _, paths, _ = trained_stage
    ckpt = checkpoint.load_checkpoint(paths.checkpoint)
    ckpt["model_state"]["w1"][0, 0] += 1e-9  # one weight changed: the recorded sha256 no longer matches
    with pytest.raises(CheckpointError, match="the file is damaged"):
        checkpoint.check_checkpoint(ckpt, model="np")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(paths.checkpoint.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load_checkpoint(truncated)
    # a pickle that would call a function when loaded is refused before it runs
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(pickle.dumps({"format": checkpoint.FORMAT, "x": Path("/etc")}))
    with pytest.raises(CheckpointError, match=r"not a readable checkpoint .*refused global pathlib"):
        checkpoint.load_checkpoint(hostile)
