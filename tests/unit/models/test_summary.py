"""The per-layer table (maskflow.models.summary): the two published FER2013 networks of
configs/fer2013.yaml to the exact parameter, every architecture type, and the command."""

from __future__ import annotations

import re

import pytest
import torch

from maskflow import cli
from maskflow.config import load_and_check
from maskflow.models import build_model
from maskflow.models.summary import load_config, model_table, summary_table

from helpers import ROOT

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
FER = ROOT / "configs" / "fer2013.yaml"
ROW = re.compile(r"^\s+(\S+-\d+)\s+(\[[-\d, ]+\])\s+([\d,]+)$")


def parse(table: str) -> tuple[dict[str, tuple[str, int]], dict[str, str]]:
    """({'Conv2d-1': ('[-1, 64, 64, 64]', 640), ...}, {'Total params': '39,569,799', ...})."""
    rows, totals = {}, {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = (match[2], int(match[3].replace(",", "")))
        elif ": " in line:
            key, value = line.split(": ")
            totals[key] = value
    return rows, totals


@pytest.fixture(scope="module")
def fer_models():
    resolved = load_and_check(load_config([FER]), SCHEMA)
    return resolved["models"], resolved["datasets"]


def fer_table(fer_models, name: str) -> str:
    models, datasets = fer_models
    spec = models[name]
    return model_table(spec, len(datasets[spec["dataset"]]["classes"]))


def test_the_vgg_style_64x64_network_matches_its_published_table(fer_models):
    models, datasets = fer_models
    spec = models["fer_vgg64"]
    assert spec["preprocess"]["size"] == 64 and spec["preprocess"]["channels"] == "gray"
    assert len(datasets[spec["dataset"]]["classes"]) == 7
    rows, totals = parse(fer_table(fer_models, "fer_vgg64"))
    published = {
        "Conv2d-1": ("[-1, 64, 64, 64]", 640),
        "BatchNorm2d-2": ("[-1, 64, 64, 64]", 128),
        "Conv2d-6": ("[-1, 128, 32, 32]", 73_856),
        "Conv2d-11": ("[-1, 256, 16, 16]", 295_168),
        "Conv2d-16": ("[-1, 512, 8, 8]", 1_180_160),
        # nn.Flatten is a layer of its own here: the published Linear-22 ... Linear-29 shift by one
        "Flatten-21": ("[-1, 8192]", 0),
        "Linear-23": ("[-1, 4096]", 33_558_528),
        "Linear-26": ("[-1, 1024]", 4_195_328),
        "Linear-28": ("[-1, 256]", 262_400),
        "Linear-30": ("[-1, 7]", 1_799),
    }
    assert {name: rows[name] for name in published} == published
    assert len(rows) == 30
    assert sum(params for _, params in rows.values()) == 39_569_799
    assert totals["Total params"] == "39,569,799"
    assert totals["Trainable params"] == "39,569,799"
    assert totals["Non-trainable params"] == "0"
    assert totals["Params size (MB)"] == "150.95"
    assert totals["Input size (MB)"] == "0.02"


def test_the_leaky_relu_48x48_network_matches_its_published_total(fer_models):
    models, _ = fer_models
    assert models["fer_leaky48"]["preprocess"]["size"] == 48
    rows, totals = parse(fer_table(fer_models, "fer_leaky48"))
    expected = {
        "Conv2d-1": ("[-1, 32, 48, 48]", 832),  # 1*5*5*32 + 32
        "LeakyReLU-2": ("[-1, 32, 48, 48]", 0),
        "BatchNorm2d-3": ("[-1, 32, 48, 48]", 64),
        "Conv2d-5": ("[-1, 128, 24, 24]", 102_528),
        "Conv2d-9": ("[-1, 256, 12, 12]", 295_168),
        "Conv2d-13": ("[-1, 256, 6, 6]", 590_080),
        "MaxPool2d-16": ("[-1, 256, 3, 3]", 0),
        "Flatten-17": ("[-1, 2304]", 0),
        "Linear-18": ("[-1, 256]", 590_080),
        "BatchNorm1d-20": ("[-1, 256]", 512),
        "Linear-21": ("[-1, 7]", 1_799),
    }
    assert {name: rows[name] for name in expected} == expected
    assert len(rows) == 21
    assert totals["Total params"] == "1,582,343"
    assert totals["Trainable params"] == "1,582,343"
    assert totals["Non-trainable params"] == "0"


@pytest.mark.parametrize(
    "arch, first",
    [
        ({"type": "mlp", "hidden": [8], "batch_norm": True}, ("Flatten-1", "[-1, 48]", 0)),
        ({"type": "cnn", "blocks": [{"channels": 4, "pool": 2}], "head": [6]}, ("Conv2d-1", "[-1, 4, 4, 4]", 112)),
        ({"type": "resnet", "width": 2}, ("Conv2d-1", "[-1, 2, 4, 4]", 54)),
        ({"type": "numpy_mlp", "hidden": [5]}, ("Linear-1", "[-1, 5]", 245)),
        ({"type": "sequential", "layers": [{"type": "global_avg_pool"}]}, ("GlobalMeanPool-1", "[-1, 3]", 0)),
    ],
)
def test_every_architecture_type_gets_a_table_whose_rows_add_up(arch, first):
    model = build_model(arch, channels=3, size=4, num_classes=3)
    rows, totals = parse(summary_table(model, 3, 4))
    name = next(iter(rows))
    assert (name, *rows[name]) == first
    total = sum(p.numel() for p in model.parameters())
    assert sum(params for _, params in rows.values()) == total
    assert totals["Total params"] == f"{total:,}"
    assert list(rows)[-1].endswith(f"-{len(rows)}")  # numbered in call order over every leaf


def test_a_summary_leaves_a_training_model_as_it_was():
    model = build_model({"type": "cnn", "blocks": [{"channels": 4, "batch_norm": True}]}, 3, 4, 3).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summary_table(model, 3, 4)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # running stats untouched


def test_the_command_prints_the_table_and_refuses_an_unknown_model(capsys):
    cli.main(["summary", "--config", str(FER), "--model", "fer_leaky48"])
    out = capsys.readouterr().out
    assert "Layer (type)" in out and "Output Shape" in out and "Param #" in out
    assert "Total params: 1,582,343" in out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["summary", "--config", str(FER), "--model", "nope"])
    assert exit_info.value.code == 2
    assert "--model: unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("arch", [{"type": "numpy_mlp", "hidden": [6, 5], "activation": "tanh"}, {"type": "numpy_mlp"}])
def test_the_numpy_mlp_table_without_torch_is_its_twins_table(arch):
    from maskflow.models.summary import numpy_mlp_table

    twin = build_model(arch, channels=1, size=8, num_classes=10)
    assert numpy_mlp_table(arch, 1, 8, 10) == summary_table(twin, 1, 8)


def test_the_train_stage_writes_the_table_beside_the_checkpoint_for_numpy_models_too(tmp_path):
    import copy

    from helpers.training import SPEC, train, write_cache

    spec = copy.deepcopy(SPEC)
    spec["arch"] = {"type": "numpy_mlp", "hidden": [7]}
    spec["train"] = {"optimizer": "sgd", "lr": 0.05, "batch_size": 16, "epochs": 1, "mixed_precision": False}
    checkpoint = train(write_cache(tmp_path / "cache"), tmp_path / "out", spec)
    table = (tmp_path / "out" / "architecture.txt").read_text()
    twin = build_model(spec["arch"], channels=3, size=16, num_classes=3)
    assert table == summary_table(twin, 3, 16)
    assert f"Total params: {checkpoint['param_count']:,}" in table  # 768 * 7 + 7 + 8 * 3
