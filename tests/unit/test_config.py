"""Config validation and model resolution (maskflow.config)."""

import copy
import re
import shutil
import subprocess

import pytest
import yaml

from maskflow.config import load_and_check
from maskflow.errors import ConfigError

from helpers import ROOT, TINY_CONFIG
from helpers.snakemake import SNAKEMAKE, job_stats

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


def test_cluster_needs_of_evaluate_default_merge_and_inherit(tiny):
    """A model's `cluster: evaluate` needs: the defaults where unset, one key overridden keeps
    the other, and a variant inherits its base's (as FER's networks do)."""
    tiny["models"]["cnn"]["cluster"] = {"evaluate": {"mem_mb": 3000}}
    tiny["models"]["mlp"]["cluster"] = {"runtime": 10}
    models = load_and_check(tiny, SCHEMA)["models"]
    assert models["mlp"]["cluster"] == {"runtime": 10, "mem_mb": 4000, "evaluate": {"runtime": 30, "mem_mb": 2000}}
    assert models["cnn-s1"]["cluster"]["evaluate"] == {"runtime": 30, "mem_mb": 3000}
    assert models["cnn_aug"]["cluster"]["evaluate"] == {"runtime": 30, "mem_mb": 3000}  # base: cnn


def test_a_numpy_model_has_its_own_cluster_defaults(tiny):
    """The NumPy trainer's models ask for little by default (a sweep's group sums its members'
    needs); what a config sets still wins, and a torch model keeps the torch defaults."""
    tiny["models"]["np"] = {"arch": {"type": "numpy_mlp", "hidden": [8]}, "cluster": {"evaluate": {"runtime": 5}}}
    models = load_and_check(tiny, SCHEMA)["models"]
    assert models["np"]["cluster"] == {"runtime": 30, "mem_mb": 1000, "evaluate": {"runtime": 5, "mem_mb": 1000}}
    assert models["mlp"]["cluster"]["mem_mb"] == 4000


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
        (
            lambda c: c["models"]["cnn"].update(cluster={"evaluate": {"mem": 3000}}),
            ["models.cnn.cluster.evaluate", "'mem' was unexpected"],
        ),
        (
            lambda c: c["models"]["cnn"].update(cluster={"evaluate": {"runtime": 0}}),
            ["models.cnn.cluster.evaluate.runtime", "minimum"],
        ),
        # evaluate keeps the saliency of 10 test crops a class (maskflow.evaluation.explain.SALIENCY_KEPT)
        (
            lambda c: c["models"]["cnn"].update(figures={"saliency_per_class": 11}),
            ["models.cnn.figures.saliency_per_class", "10"],
        ),
    ],
)
def test_config_errors_name_the_key_and_allowed_values(tiny, edit, expected):
    config = copy.deepcopy(tiny)
    edit(config)
    with pytest.raises(ConfigError) as error:
        load_and_check(config, SCHEMA)
    for fragment in expected:
        assert fragment in str(error.value)


# --- which config files make the experiment (Snakefile) --------------------------------------
TINY_MODELS = {"cnn-s1", "cnn-s2", "cnn_aug", "mlp", "seq", "lr-lr0.01", "lr-lr0.1"}


def dry_run_from_the_repository(tmp_path, *configfiles: str) -> tuple[dict[str, int], set[str]]:
    """`snakemake -n --forceall all [--configfile ...]` typed in the repository root, results in
    `tmp_path`, which holds a copy of config.yaml as the repository root does; returns the job
    counts and the names of the models it would train."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    command = [*SNAKEMAKE, "-n", "--forceall", "--nolock", "--directory", str(tmp_path), "--cores", "2", "all"]
    if configfiles:
        command += ["--configfile", *configfiles]
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-3000:]
    trained = set(re.findall(r"results/\w+/models/([^/\s,]+)/checkpoint\.pt", output))
    return job_stats(output), trained


@pytest.mark.workflow
def test_a_configfile_on_the_command_line_replaces_the_default_experiment(tmp_path):
    jobs, trained = dry_run_from_the_repository(tmp_path, "tests/config/tiny.yaml")
    assert trained == TINY_MODELS  # not config.yaml's digits study added to it
    assert jobs["train"] == len(TINY_MODELS)


@pytest.mark.workflow
def test_several_configfiles_layer_key_by_key(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("models:\n  mlp_long: {base: mlp, train: {epochs: 3}}\n")
    jobs, trained = dry_run_from_the_repository(tmp_path, "tests/config/tiny.yaml", str(extra))
    assert trained == TINY_MODELS | {"mlp_long"}
    assert jobs["train"] == len(TINY_MODELS) + 1


@pytest.mark.workflow
def test_without_a_configfile_the_default_experiment_runs(tmp_path):
    _, trained = dry_run_from_the_repository(tmp_path)
    default = load_and_check(yaml.safe_load((ROOT / "config.yaml").read_text()), SCHEMA)["models"]
    assert trained == set(default)


# --- the schema's enums name what the package has registered -----------------------------------
def _registries():
    from maskflow.annotations import READERS
    from maskflow.annotations.checks import BOX_ORDERS
    from maskflow.config import SPLITS
    from maskflow.data.crop import CHANNELS
    from maskflow.models import REGISTRY
    from maskflow.models.init import BIAS_INITS, WEIGHT_INITS
    from maskflow.sources.fetch import SOURCES
    from maskflow.training.optim import OPTIMIZERS, SCHEDULES
    from maskflow.training.outputs import MONITORS
    from maskflow.training.sampling import EPOCH_ORDERS

    return {
        "$defs/source/properties/kind": SOURCES,
        "$defs/annotations/properties/format": READERS,
        "$defs/annotations/properties/box_order": [*BOX_ORDERS, "auto"],  # auto: decided per table
        "$defs/annotations/properties/split_values/additionalProperties": SPLITS,
        "$defs/preprocess/properties/channels": CHANNELS,
        "$defs/arch/properties/type": REGISTRY,
        "$defs/train/properties/optimizer": OPTIMIZERS,
        "$defs/train/properties/schedule/properties/type": SCHEDULES,
        "$defs/train/properties/early_stopping/oneOf/1/properties/monitor": MONITORS,
        "$defs/train/properties/init/properties/weights": WEIGHT_INITS,
        "$defs/train/properties/init/properties/bias": BIAS_INITS,
        # undersample draws its subsets from the seed and epoch, outside EPOCH_ORDERS
        "$defs/train/properties/imbalance/properties/method": [*EPOCH_ORDERS, "undersample"],
    }


def test_schema_enums_are_the_registries():
    """A registered optimizer, arch type, ... the schema refuses (or one it allows that nothing
    implements) fails here; the schema lists them for users, the registries are the truth."""
    schema = yaml.safe_load(SCHEMA.read_text())
    from maskflow.data.cache import BUILDERS

    for pointer, registry in _registries().items():
        node = schema
        for part in pointer.split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert set(node["enum"]) == set(registry), pointer
    # every format that can be read can also be cached
    assert set(BUILDERS) == set(_registries()["$defs/annotations/properties/format"])


def test_the_schema_caps_saliency_per_class_at_what_evaluate_keeps():
    from maskflow.evaluation.explain import SALIENCY_KEPT

    schema = yaml.safe_load(SCHEMA.read_text())
    assert schema["$defs"]["figures"]["properties"]["saliency_per_class"]["maximum"] == SALIENCY_KEPT
