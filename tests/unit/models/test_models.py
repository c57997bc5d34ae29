"""The model registry: arch checking (no torch needed), building, features, initialisation."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml

from maskflow.config import load_and_check
from maskflow.errors import ConfigError
from maskflow.models import REGISTRY, ArchType, build_model, check_arch
from maskflow.models.init import initialise

from helpers import ROOT, TINY_CONFIG

CNN = {
    "type": "cnn",
    "blocks": [{"channels": 4, "pool": 2, "batch_norm": True}, {"channels": 8, "kernel": 5, "stride": 2}],
    "head": [12],
}


@pytest.mark.parametrize(
    "arch, features",
    [
        ({"type": "mlp", "hidden": [32, 16], "batch_norm": True, "dropout": 0.1}, 16),
        ({"type": "mlp", "hidden": [32], "bottleneck": 2, "activation": "sigmoid"}, 2),
        ({"type": "mlp", "hidden": []}, 3 * 16 * 16),
        (CNN, 12),
        ({**CNN, "head": []}, 8 * 4 * 4),
        ({"type": "resnet", "width": 4}, 32),
    ],
)
def test_every_model_gives_logits_and_penultimate_features(arch, features):
    model = build_model(arch, channels=3, size=16, num_classes=5).eval()
    x = torch.randn(7, 3, 16, 16)
    assert model(x).shape == (7, 5)
    assert model.features(x).shape == (7, features)
    assert torch.equal(model.classifier(model.features(x)), model(x))


def test_cnn_blocks_follow_the_config():
    model = build_model(CNN, channels=1, size=16, num_classes=3)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (1, 4, (3, 3), (1, 1), "same"),
        (4, 8, (5, 5), (2, 2), (2, 2)),  # strided: padding kernel // 2 by default
    ]
    assert convs[0].bias is None and convs[1].bias is not None  # no bias before batch norm
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()) == 1


def test_resnet_is_adapted_to_small_gray_inputs_and_not_pretrained():
    model = build_model({"type": "resnet"}, channels=1, size=32, num_classes=3)
    stem = model.trunk[0]
    assert (stem.in_channels, stem.kernel_size, stem.stride) == (1, (3, 3), (1, 1))
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert model.classifier.in_features == 512
    assert 11_000_000 < sum(p.numel() for p in model.parameters()) < 11_300_000  # resnet18's size


def test_same_seed_same_initial_weights_and_rrelu_is_seeded():
    arch = {**CNN, "activation": "rrelu"}
    torch.manual_seed(3)
    a = build_model(arch, 3, 16, 3).train()
    torch.manual_seed(3)
    b = build_model(arch, 3, 16, 3).train()
    x = torch.randn(4, 3, 16, 16)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    torch.manual_seed(9)
    out_a = a(x)
    torch.manual_seed(9)
    assert torch.equal(out_a, b(x))  # random slopes drawn from the seeded generator
    assert not torch.equal(a(x), b(x))  # ... and really random


# The first linear layer maps 3 x 16 x 16 = 768 inputs to 256 units.
@pytest.mark.parametrize(
    "weights, check",
    [
        ("zeros", lambda w: torch.count_nonzero(w) == 0),
        ("normal", lambda w: abs(float(w.std()) - 0.05) < 0.005),
        ("xavier", lambda w: float(w.abs().max()) <= (6 / (768 + 256)) ** 0.5 and float(w.std()) > 0.04),
        ("kaiming", lambda w: abs(float(w.std()) - (2 / 768) ** 0.5) < 0.005),
    ],
)
def test_initialisation_of_conv_and_linear_weights(weights, check):
    torch.manual_seed(0)
    model = initialise(
        build_model({"type": "mlp", "hidden": [256], "batch_norm": True}, 3, 16, 3),
        {"weights": weights, "bias": "zeros", "std": 0.05},
    )
    linear = model.trunk[1]
    assert check(linear.weight.detach())
    assert torch.count_nonzero(linear.bias) == 0
    assert torch.equal(model.trunk[2].weight, torch.ones(256))  # batch norm untouched


def test_init_modes_change_the_default_weights():
    def first_weight(spec):
        torch.manual_seed(0)
        return initialise(build_model(CNN, 3, 16, 3), spec).trunk[0].weight.clone()

    default = first_weight({"weights": "default"})
    for mode in ("normal", "xavier", "kaiming"):
        assert not torch.equal(first_weight({"weights": mode}), default), mode


def test_check_arch_fills_defaults():
    filled = check_arch({"type": "cnn", "blocks": [{"channels": 4}, {"channels": 4, "stride": 2, "kernel": 5}]})
    assert filled["blocks"][0] == {
        "channels": 4,
        "kernel": 3,
        "stride": 1,
        "padding": "same",
        "pool": None,
        "batch_norm": False,
        "dropout": 0.0,
        "activation": "relu",
    }
    assert filled["blocks"][1]["padding"] == 2
    assert check_arch({"type": "resnet"}) == {"type": "resnet", "width": 64}


@pytest.mark.parametrize(
    "arch, message",
    [
        ({"type": "transformer"}, "type: unknown model type 'transformer'; known types: cnn, mlp, numpy_mlp, resnet"),
        ({"type": "mlp", "hiden": [3]}, "hiden: unknown key; allowed keys: activation, batch_norm, bottleneck"),
        (
            {"type": "mlp", "activation": "swish"},
            "activation: 'swish' is not allowed; allowed values: 'relu', 'leaky_relu', 'rrelu'",
        ),
        ({"type": "mlp", "dropout": 1.5}, r"dropout: must be a number in \[0, 1\), got 1.5"),
        ({"type": "mlp", "hidden": [16, 0]}, r"hidden\[1\]: must be an integer >= 1, got 0"),
        ({"type": "cnn", "head": [8]}, "blocks: required"),
        ({"type": "cnn", "blocks": []}, "blocks: must be a list of at least 1"),
        (
            {"type": "cnn", "blocks": [{"channels": 4, "stride": 2, "padding": "same"}]},
            r"blocks\[0\].padding: 'same' needs stride 1",
        ),
        (
            {"type": "cnn", "blocks": [{"channels": 4, "batch_norm": "yes"}]},
            r"blocks\[0\].batch_norm: must be true or false",
        ),
        ({"type": "cnn", "blocks": [{"channels": True}]}, r"blocks\[0\].channels: must be an integer >= 1, got True"),
    ],
)
def test_bad_arch_is_a_config_error_naming_the_key(arch, message):
    with pytest.raises(ConfigError, match=message):
        check_arch(arch)


def test_config_resolution_checks_every_arch_and_names_the_model():
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["models"]["mlp"]["arch"]["activation"] = "swish"
    with pytest.raises(ConfigError, match=r"models.mlp.arch: activation: 'swish' is not allowed"):
        load_and_check(config, ROOT / "workflow/schemas/config.schema.yaml")


def test_default_config_architectures_all_build():
    resolved = load_and_check(
        yaml.safe_load((ROOT / "config.yaml").read_text()), ROOT / "workflow/schemas/config.schema.yaml"
    )
    for name, spec in resolved["models"].items():
        size = resolved["datasets"][spec["dataset"]]["preprocess"]["size"]
        model = build_model(spec["arch"], 3, size, 3).eval()
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 3), name


def test_registry_is_a_dict_and_checking_needs_no_torch():
    assert isinstance(REGISTRY, dict) and all(isinstance(kind, ArchType) for kind in REGISTRY.values())
    code = (
        "import sys; from maskflow.models import check_arch; check_arch({'type': 'resnet'}); "
        "check_arch({'type': 'numpy_mlp'}); print('torch' in sys.modules)"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert process.stdout.strip() == "False"
