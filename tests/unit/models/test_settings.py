"""models/settings.py: one home for a model's settings, read by the comparison table and the report."""

from __future__ import annotations

from maskflow.models import REGISTRY
from maskflow.models.settings import ARCH_SUMMARY, TRAIN_SETTINGS, listed_settings, table_settings


def test_table_settings_describe_every_arch_in_one_line():
    assert (
        table_settings({"arch": {"type": "mlp", "hidden": [16, 8], "bottleneck": 2}, "train": {}})["arch"]
        == "mlp 16-8-(2)"
    )
    assert table_settings({"arch": {"type": "resnet"}, "train": {}})["arch"] == "resnet18 width 64"
    stopping = table_settings(
        {
            "arch": {"type": "cnn", "blocks": [{"channels": 4, "kernel": 5, "stride": 2}]},
            "train": {"early_stopping": {"monitor": "val_loss", "patience": 3}},
        }
    )
    assert stopping["arch"] == "cnn 4k5s2" and stopping["early_stopping"] == "val_loss/3"
    layers = [{"type": "conv2d", "channels": 8}, {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "units": 4}]
    assert table_settings({"arch": {"type": "sequential", "layers": layers}, "train": {}})["arch"] == (
        "sequential 4 layers: conv2d x1, linear x1"
    )


def test_every_registered_arch_type_has_a_description():
    assert set(ARCH_SUMMARY) == set(REGISTRY)


def test_the_listed_settings_hold_every_training_setting_and_the_table_a_subset():
    train = {key: f"value of {key}" for key in TRAIN_SETTINGS}
    train["augment"] = {"hflip": True, "rotate": 0}
    train["early_stopping"] = {"monitor": "val_loss", "patience": 2}
    train["imbalance"] = {"method": "weights"}
    spec = {"arch": {"type": "mlp", "hidden": [8]}, "seed": 3, "device": "cpu", "train": train}
    listed = listed_settings(spec)
    assert {key: listed[key] for key in TRAIN_SETTINGS} == train
    assert (listed["seed"], listed["device"], listed["architecture"]) == (3, "cpu", spec["arch"])
    table = table_settings(spec)
    # The table's columns are a summary of the same settings, never one the list lacks.
    assert set(table) - {"arch"} <= set(TRAIN_SETTINGS)
    assert (table["optimizer"], table["lr"], table["augment"], table["imbalance"]) == (
        "value of optimizer",
        "value of lr",
        "hflip",
        "weights",
    )


def test_an_ensemble_names_its_members_and_rule_in_both_views():
    spec = {"kind": "ensemble", "members": ["a", "b"]}
    assert table_settings(spec) == {"arch": "ensemble of a + b"}
    assert listed_settings(spec) == {"members": ["a", "b"], "rule": "mean of the members' class probabilities"}
