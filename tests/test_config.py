"""Config validation and model resolution (maskflow.config)."""

import copy

import pytest
import yaml

from conftest import ROOT, TINY_CONFIG
from maskflow.config import load_and_check
from maskflow.errors import ConfigError

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def tiny():
    return yaml.safe_load(TINY_CONFIG.read_text())


def test_default_and_tiny_configs_are_valid():
    for path in (ROOT / "config.yaml", TINY_CONFIG):
        resolved = load_and_check(yaml.safe_load(path.read_text()), SCHEMA)
        assert "masks" in resolved["datasets"]


def test_variant_inherits_base_and_overrides_only_what_differs(tiny):
    models = load_and_check(tiny, SCHEMA)["models"]
    assert models["cnn_aug"]["arch"] == models["cnn-s1"]["arch"]
    assert models["cnn_aug"]["train"]["epochs"] == 4
    assert models["cnn_aug"]["train"]["lr"] == models["cnn-s1"]["train"]["lr"]
    # replicates belong to the model that names `seeds`, not to its variants
    assert "cnn_aug" in models and "cnn_aug-s1" not in models


def test_seeds_expand_to_replicates_in_one_group(tiny):
    models = load_and_check(tiny, SCHEMA)["models"]
    assert {models["cnn-s1"]["seed"], models["cnn-s2"]["seed"]} == {1, 2}
    assert models["cnn-s1"]["group"] == models["cnn-s2"]["group"] == "cnn"


def test_sweep_expands_grid(tiny):
    models = load_and_check(tiny, SCHEMA)["models"]
    swept = {name: m["train"]["lr"] for name, m in models.items() if m.get("sweep") == "lr"}
    assert swept == {"lr-lr0.01": 0.01, "lr-lr0.1": 0.1}


def test_ensemble_members_resolve(tiny):
    ensembles = load_and_check(tiny, SCHEMA)["ensembles"]
    assert ensembles["ens"]["members"] == ["cnn_aug", "mlp"]
    assert ensembles["ens"]["dataset"] == "masks"


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c["models"]["cnn"]["train"].update(optimizer="rmsprop"), ["models.cnn.train.optimizer", "'adam'"]),
        (lambda c: c.update(colour="blue"), ["colour", "allowed keys"]),
        (lambda c: c["models"]["cnn"]["train"].update(epochs="ten"), ["models.cnn.train.epochs", "integer"]),
        (lambda c: c["models"]["cnn_aug"].update(base="nope"), ["models.cnn_aug.base", "nope"]),
        (lambda c: c["models"]["mlp"].update(dataset="faces"), ["models.mlp.dataset", "faces"]),
        (lambda c: c["models"]["mlp"]["arch"].update(type="transformer"), ["models.mlp.arch.type", "'cnn'"]),
        (lambda c: c["ensembles"]["ens"].update(members=["mlp", "ghost"]), ["ensembles.ens.members", "ghost"]),
    ],
)
def test_config_errors_name_the_key_and_allowed_values(tiny, edit, expected):
    config = copy.deepcopy(tiny)
    edit(config)
    with pytest.raises(ConfigError) as error:
        load_and_check(config, SCHEMA)
    for fragment in expected:
        assert fragment in str(error.value)
