"""bench/network_epochs.py (issue 26): the preset networks, and one eager epoch's figures."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from helpers import ROOT

if str(ROOT) not in sys.path:  # bench/ is a package at the repository root
    sys.path.insert(0, str(ROOT))


def test_preset_networks_are_each_presets_base_models_once():
    network_epochs = importlib.import_module("bench.network_epochs")
    nets = network_epochs.preset_networks()
    assert {"cnn_baseline", "mlp", "fer_cnn", "fer_vgg64", "fer_leaky48", "mnist_mlp", "mnist_cnn"} == set(nets)
    assert nets["fer_cnn"]["size"] == 48 and nets["fer_cnn"]["channels"] == 1 and nets["fer_cnn"]["classes"] == 7
    assert nets["cnn_baseline"]["channels"] == 3 and nets["fer_cnn"]["train"]["batch_size"] == 128


def test_an_eager_epoch_gives_images_per_second_and_a_fraction_of_the_matmul_peak(capsys):
    network_epochs = importlib.import_module("bench.network_epochs")
    f = network_epochs.main(["--networks", "mlp", "--crops", "128", "--modes", "eager", "--threads", "1"])
    (row,) = f["rows"]
    assert row["network"] == "mlp" and row["mode"] == "eager" and row["compile_s"] is None
    # the MLP on 32x32x3 crops: 3,072 -> 256 -> 128 -> 3 weights; 2 FLOPs a weight forward, 2 for
    # its gradient and 2 for its input's gradient (not for the first layer: the image needs none)
    weights = 3072 * 256 + 256 * 128 + 128 * 3
    assert row["step_gflop_per_image"] * 1e9 == pytest.approx(6 * weights - 2 * 3072 * 256, rel=0.01)
    assert row["images_per_s"] == 128 / row["epoch_s"] and 0 < row["matmul_fraction"] < 2
    assert "of fp32 matmul" in capsys.readouterr().out
    assert torch.get_num_threads() == 1


def test_the_gpu_script_without_cuda_says_so_and_exits_2(capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the script would measure")
    gpu = importlib.import_module("bench.gpu")
    with pytest.raises(SystemExit) as stop:
        gpu.main([])
    assert stop.value.code == 2 and "sees no CUDA device" in capsys.readouterr().out


@pytest.mark.workflow
def test_the_gpu_scripts_dry_check_plans_the_tiny_config_on_cuda():
    gpu = importlib.import_module("bench.gpu")
    f = gpu.main(["--dry-check", "--skip", "networks", "train_epoch"])
    assert f["tiny"]["dry_run"] and f["tiny"]["jobs"] > 20 and f["tiny"]["devices"] == {}
