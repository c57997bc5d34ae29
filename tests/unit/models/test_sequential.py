"""The `sequential` architecture: layer keys, shape inference without torch, its one-line errors
at config time, the torch model it builds, and sweeps over one layer's key."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from maskflow.config import load_and_check
from maskflow.errors import ConfigError
from maskflow.models.sequential_shapes import LAYERS, check_layers, infer_shapes

from helpers import ROOT, TINY_CONFIG

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"

# conv 3x3 'same' -> 4x4 pool -> ... a 16x16 crop becomes 8 x 4 x 4 = 128 values
SMALL = [
    {"type": "conv2d", "channels": 8, "kernel": 3, "padding": "same", "bias": False},
    {"type": "batch_norm"},
    {"type": "leaky_relu", "slope": 0.2},
    {"type": "max_pool", "kernel": 4},
    {"type": "dropout2d", "p": 0.1},
    {"type": "flatten"},
    {"type": "linear", "units": 10},
    {"type": "batch_norm"},
    {"type": "elu"},
    {"type": "dropout"},
]


def shapes(layers, channels=3, size=16):
    return infer_shapes(check_layers(layers), channels, size)


def test_shapes_follow_pytorch_arithmetic_layer_by_layer():
    assert shapes(SMALL) == [
        (8, 16, 16),
        (8, 16, 16),
        (8, 16, 16),
        (8, 4, 4),
        (8, 4, 4),
        (128,),
        (10,),
        (10,),
        (10,),
        (10,),
    ]
    # stride and padding: (16 + 2*1 - 5) // 2 + 1 = 7; avg pool 3 stride 2: (7 - 3) // 2 + 1 = 3
    strided = [
        {"type": "conv2d", "channels": 4, "kernel": 5, "stride": 2, "padding": 1},
        {"type": "avg_pool", "kernel": 3, "stride": 2},
        {"type": "global_avg_pool"},
    ]
    assert shapes(strided, channels=1) == [(4, 7, 7), (4, 3, 3), (4,)]


def test_defaults_are_torchs_and_filled_in():
    conv, pool, rrelu, linear = check_layers(
        [{"type": "conv2d", "channels": 4}, {"type": "max_pool"}, {"type": "rrelu"}, {"type": "linear", "units": 3}]
    )
    assert (conv["kernel"], conv["stride"], conv["padding"], conv["bias"]) == (3, 1, 0, True)
    assert (pool["kernel"], pool["stride"]) == (2, None)
    assert (rrelu["lower"], rrelu["upper"]) == (1 / 8, 1 / 3)
    assert linear["bias"] is True


@pytest.mark.parametrize(
    "layers, message",
    [
        # the issue's own example: a linear layer that expects what the user's code wrote
        (
            [
                {"type": "conv2d", "channels": 512, "padding": 1},
                {"type": "relu"},
                {"type": "max_pool"},
                {"type": "dropout"},
                {"type": "conv2d", "channels": 512, "padding": 1},
                {"type": "relu"},
                {"type": "flatten"},
                {"type": "linear", "inputs": 8192, "units": 64},
            ],
            "layers[7] (linear): expects 8192 inputs, gets 2048 (after layers[6] flatten of 512x2x2)",
        ),
        (
            [{"type": "conv2d", "channels": 4}, {"type": "linear", "units": 3}],
            "layers[1] (linear): needs a flat input, gets 4x2x2 maps; put a flatten or global_avg_pool before it "
            "(after layers[0] conv2d, which gives 4x2x2)",
        ),
        (
            [{"type": "conv2d", "channels": 4, "kernel": 7}, {"type": "flatten"}],
            "layers[0] (conv2d): a 7x7 kernel with padding 0 does not fit the 4x4 maps (the input crops are 1x4x4)",
        ),
        (
            [{"type": "max_pool"}, {"type": "max_pool"}, {"type": "max_pool"}, {"type": "flatten"}],
            "layers[2] (max_pool): a 2x2 pool shrinks the 1x1 maps to nothing; use fewer or smaller pools "
            "(after layers[1] max_pool, which gives 1x1x1)",
        ),
        (
            [{"type": "flatten"}, {"type": "dropout2d"}],
            "layers[1] (dropout2d): needs feature maps (channels x height x width), gets a flat vector of 16",
        ),
        (
            [{"type": "conv2d", "channels": 4, "in_channels": 3, "padding": 1}, {"type": "flatten"}],
            "layers[0] (conv2d): expects 3 input channels, gets 1",
        ),
        (
            [{"type": "flatten"}, {"type": "batch_norm", "features": 15}],
            "layers[1] (batch_norm): expects 15 features, gets 16",
        ),
        (
            [{"type": "conv2d", "channels": 4, "padding": 1}],
            "layers[0] (conv2d): the network ends with 4x4x4 maps; end it with flatten or global_avg_pool",
        ),
    ],
)
def test_a_network_that_does_not_fit_names_the_layer_and_the_sizes(layers, message):
    with pytest.raises(ConfigError) as error:
        shapes(layers, channels=1, size=4)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "layers, message",
    [
        (
            [{"type": "conv", "channels": 4}],
            "layers[0].type: unknown layer type 'conv'; layer types: conv2d, batch_norm",
        ),
        (
            [{"type": "conv2d", "channels": 4, "kernal": 3}],
            "layers[0].kernal: unknown key; allowed keys: bias, channels",
        ),
        ([{"type": "linear"}], "layers[0].units: required"),
        ([{"type": "dropout", "p": 1.5}], "layers[0].p: must be a number in [0, 1)"),
        (
            [{"type": "conv2d", "channels": 4, "stride": 2, "padding": "same"}],
            "layers[0].padding: 'same' needs stride 1",
        ),
        ([{"channels": 4}], "layers[0]: must be a mapping with a `type`"),
        ([], "layers: must be a list of at least one layer"),
    ],
)
def test_an_unknown_layer_type_or_key_lists_the_allowed_ones(layers, message):
    with pytest.raises(ConfigError) as error:
        check_layers(layers)
    assert message in str(error.value)


def test_every_layer_type_lists_its_keys_in_the_unknown_type_message():
    with pytest.raises(ConfigError) as error:
        check_layers([{"type": "nope"}])
    assert all(name in str(error.value) for name in LAYERS)


@pytest.fixture
def tiny():
    return yaml.safe_load(TINY_CONFIG.read_text())


def with_model(config: dict, layers: list, size: int | None = None) -> dict:
    config = copy.deepcopy(config)
    config["models"] = {"seq": {"dataset": "masks", "arch": {"type": "sequential", "layers": layers}}}
    config.pop("sweeps", None)
    config.pop("ensembles", None)
    config["datasets"]["masks"].pop("baseline", None)
    if size:
        config["datasets"]["masks"]["preprocess"]["size"] = size
    return config


def test_config_resolution_checks_shapes_against_the_datasets_crops(tiny):
    layers = [{"type": "conv2d", "channels": 4}, {"type": "max_pool"}, {"type": "flatten"}]
    layers.append({"type": "linear", "inputs": 4 * 7 * 7, "units": 8})  # (16 - 2) // 2 = 7 on 16x16 crops
    load_and_check(with_model(tiny, layers), SCHEMA)  # fits the tiny crops
    with pytest.raises(ConfigError) as error:
        load_and_check(with_model(tiny, layers, size=20), SCHEMA)  # 9x9 maps on 20x20 crops
    assert str(error.value) == (
        "models.seq.arch.layers[3] (linear): expects 196 inputs, gets 324 (after layers[2] flatten of 4x9x9)"
    )


def test_channels_come_from_the_datasets_preprocess(tiny):
    layers = [{"type": "conv2d", "channels": 4, "in_channels": 3}, {"type": "global_avg_pool"}]
    load_and_check(with_model(tiny, layers), SCHEMA)
    gray = with_model(tiny, layers)
    gray["datasets"]["masks"]["preprocess"]["channels"] = "gray"
    with pytest.raises(ConfigError, match=r"models.seq.arch.layers\[0\] \(conv2d\): expects 3 input channels, gets 1"):
        load_and_check(gray, SCHEMA)


def test_checking_a_config_does_not_import_torch():
    code = (
        "import sys, yaml; sys.path.insert(0, 'workflow');"
        "from maskflow.config import load_and_check;"
        "load_and_check(yaml.safe_load(open('tests/config/tiny.yaml')), 'workflow/schemas/config.schema.yaml');"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_sweep_addresses_one_layers_key_by_list_index(tiny):
    config = with_model(tiny, [{"type": "conv2d", "channels": 4}, {"type": "relu"}, {"type": "global_avg_pool"}])
    config["sweeps"] = {"k": {"base": "seq", "grid": {"arch.layers.0.kernel": [3, 5], "arch.layers.0.channels": [6]}}}
    models = load_and_check(config, SCHEMA)["models"]
    swept = {name: m["arch"]["layers"] for name, m in models.items() if m.get("sweep") == "k"}
    assert set(swept) == {"k-kernel3_channels6", "k-kernel5_channels6"}
    for kernel in (3, 5):
        layers = swept[f"k-kernel{kernel}_channels6"]
        # the other layers are the base model's, untouched
        assert layers == [
            {"type": "conv2d", "channels": 6, "kernel": kernel},
            {"type": "relu"},
            {"type": "global_avg_pool"},
        ]
    assert models["seq"]["arch"]["layers"][0] == {"type": "conv2d", "channels": 4}
    config["sweeps"]["k"]["grid"] = {"arch.layers.3.kernel": [3]}
    with pytest.raises(
        ConfigError, match="sweep grid key 'arch.layers.3.kernel': arch.layers of the base model has no item 3"
    ):
        load_and_check(config, SCHEMA)


# ------------------------------------------------------------------------------ torch


def test_the_built_model_matches_the_inferred_shapes_and_ends_in_the_classes():
    import torch

    from maskflow.models import build_model

    model = build_model({"type": "sequential", "layers": SMALL}, channels=3, size=16, num_classes=5).eval()
    x = torch.randn(2, 3, 16, 16)
    outputs = []
    for layer in model.trunk:
        x = layer(x)
        outputs.append(tuple(x.shape[1:]))
    assert outputs == shapes(SMALL)
    assert model.features(torch.randn(2, 3, 16, 16)).shape == (2, 10)  # the last listed layer: latent plots
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 5)
    conv, bn2d, leaky = model.trunk[0], model.trunk[1], model.trunk[2]
    assert conv.bias is None and conv.padding == "same"
    assert isinstance(bn2d, torch.nn.BatchNorm2d) and isinstance(model.trunk[7], torch.nn.BatchNorm1d)
    assert leaky.negative_slope == 0.2


def test_filters_and_saliency_find_the_conv_layers_of_a_sequential_model():
    import torch

    from maskflow.evaluation.explain import conv_layers
    from maskflow.models import build_model

    model = build_model({"type": "sequential", "layers": SMALL}, channels=3, size=16, num_classes=5)
    first, tapped = conv_layers(model)
    assert first is model.trunk[0]
    assert tapped is model.trunk[2]  # the activation after conv -> batch norm
    assert isinstance(tapped, torch.nn.LeakyReLU)


# ------------------------------------------------------------------------------ end to end


@pytest.mark.workflow
def test_the_tiny_workflow_trains_evaluates_and_explains_a_sequential_model(tiny_run):
    import json

    import numpy as np
    import torch

    from maskflow.inference import predict_proba
    from maskflow.models.checkpoint import load_model

    model_dir = tiny_run / "results" / "masks" / "models" / "seq"
    table = (model_dir / "architecture.txt").read_text()
    assert "Conv2d-1" in table and "[-1, 4, 16, 16]" in table and "Flatten-6" in table and "[-1, 256]" in table
    model, ckpt = load_model(model_dir / "checkpoint.pt", "cpu")
    total = sum(p.numel() for p in model.parameters())
    assert f"Total params: {total:,}" in table
    assert isinstance(model.trunk[0], torch.nn.Conv2d) and ckpt["arch"]["type"] == "sequential"
    # the reloaded checkpoint reproduces the validation accuracy logged during training
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["splits"]["val"]["accuracy"] == ckpt["val_metrics"]["accuracy"]
    cache = tiny_run / "results" / "masks" / "cache"
    proba = predict_proba(model, ckpt, np.load(cache / "val_x.npy"), "cpu")
    assert float((proba.argmax(1) == np.load(cache / "val_y.npy")).mean()) == ckpt["val_metrics"]["accuracy"]
    assert "above_prior" in metrics["splits"]["test"]
    figures = tiny_run / "results" / "masks" / "figures" / "seq"
    for name in ("saliency", "filters", "filter_maximization", "latent", "learning_curves"):
        assert (figures / f"{name}.png").stat().st_size > 0, name
    report = (tiny_run / "results" / "report.html").read_text()
    assert "architecture (per-layer table)" in report and "Linear-7" in report


def test_a_sequential_model_resumes_to_identical_weights_with_undersampling(tmp_path, monkeypatch):
    import signal

    from maskflow.training import torch_trainer as train_module

    from helpers.training import SPEC, assert_same_weights, train, write_cache

    spec = copy.deepcopy(SPEC)
    spec["arch"] = {
        "type": "sequential",
        "layers": [
            {"type": "conv2d", "channels": 6, "padding": 1},
            {"type": "batch_norm"},
            {"type": "rrelu"},
            {"type": "max_pool"},
            {"type": "dropout2d", "p": 0.1},
            {"type": "flatten"},
            {"type": "linear", "units": 12},
            {"type": "elu"},
            {"type": "dropout", "p": 0.2},
        ],
    }
    spec["train"].update(epochs=4, imbalance={"method": "undersample"}, latent_epochs=[2])
    cache = write_cache(tmp_path / "cache")
    straight = train(cache, tmp_path / "straight", spec)

    class StopAfter(train_module.StopSignals):
        batches = 10  # undersampled epochs of 3 x 20 crops are 4 batches: stops during epoch 3

        def check(self):
            StopAfter.batches -= 1
            if StopAfter.batches < 0:
                self.received = signal.SIGTERM
            super().check()

    monkeypatch.setattr(train_module, "StopSignals", StopAfter)
    with pytest.raises(SystemExit):
        train(cache, tmp_path / "resumed", spec)
    monkeypatch.undo()
    resumed = train(cache, tmp_path / "resumed", spec)
    assert_same_weights(resumed["model_state"], straight["model_state"])
    table = (tmp_path / "resumed" / "architecture.txt").read_text()
    assert f"Total params: {straight['param_count']:,}" in table and "RReLU-3" in table
