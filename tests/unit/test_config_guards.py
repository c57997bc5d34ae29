"""Config mistakes caught before any job runs (issue 27, points 1-4; issue 29, point 3).

- every sweep member is checked like a model written out: a grid key naming no setting, a
  value of the wrong type and a repeated value are refused, naming the sweep, key and value;
- a `cnn` whose blocks shrink the crops below one pixel is refused, naming the block and sizes;
- `snakemake -n` prints the message first, with no Snakemake frame or traceback around it;
- `python -m maskflow.config FILE ...` finds the same mistakes with the same message, layers
  several files as `--configfile` does, and has a help and one-line errors of its own.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import yaml

from maskflow.config import load_and_check
from maskflow.errors import ConfigError

from helpers import ROOT, TINY_CONFIG
from helpers.snakemake import run_snakemake

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SEVEN_POOLS = [{"channels": 4, "pool": 2}] * 7


@pytest.fixture
def tiny() -> dict:
    return yaml.safe_load(TINY_CONFIG.read_text())


def grid(**values):
    """An edit of tiny.yaml's `lr` sweep (base mlp) to the grid given (dotted keys as `a__b`)."""
    return lambda c: c["sweeps"]["lr"].update(grid={k.replace("__", "."): v for k, v in values.items()})


# case -> (edit of tiny.yaml, the whole message load_and_check raises)
MISTAKES = {
    "grid key names no setting": (
        grid(train__lrr=[0.1, 0.2]),
        "sweeps.lr.grid.train.lrr: value 0.1: train: Additional properties are not allowed ('lrr' was unexpected); "
        "allowed keys: augment, batch_size, compile, early_stopping, epochs, imbalance, init, label_smoothing, latent_epochs, "
        "lr, mixed_precision, momentum, nesterov, optimizer, schedule, weight_decay",
    ),
    "grid key names no arch setting": (
        grid(arch__hiden=[[8], [16]]),
        "sweeps.lr.grid.arch.hiden: value [8]: arch: hiden: unknown key; "
        "allowed keys: activation, batch_norm, bottleneck, dropout, hidden, type",
    ),
    "grid value of the wrong type": (
        grid(train__lr=["x", 0.1]),
        "sweeps.lr.grid.train.lr: value 'x': train.lr: 'x' is not of type 'number'",
    ),
    "grid value out of range": (
        grid(train__epochs=[2, 0]),
        "sweeps.lr.grid.train.epochs: value 0: train.epochs: 0 is less than the minimum of 1",
    ),
    "repeated grid value": (
        grid(train__lr=[0.05, 0.05]),
        "sweeps.lr.grid.train.lr: value 0.05 is listed twice: both members would be lr-lr0.05; list each value once",
    ),
    "grid values of one name": (
        grid(train__epochs=[2, 2.0]),
        "sweeps.lr.grid.train.epochs: value 2.0 is listed twice: both members would be lr-epochs2; "
        "list each value once",
    ),
    "grid value breaks a training rule": (
        grid(train__optimizer=["sgd"], train__momentum=[0.0], train__nesterov=[True]),
        "sweeps.lr.grid: member lr-optimizersgd_momentum0_nesterovyes (train.optimizer='sgd', train.momentum=0.0, "
        "train.nesterov=True): train.nesterov: needs momentum > 0 (momentum is 0.0)",
    ),
    "cnn shrinks the crops to nothing": (
        lambda c: c["models"]["cnn"]["arch"].update(blocks=SEVEN_POOLS),
        "models.cnn-s1.arch.blocks[4]: shrinks the 1x1 feature map to 0x0 (kernel 3, pool 2; "
        "sizes 16 -> 8 -> 4 -> 2 -> 1 -> 0); use fewer blocks or smaller kernels, strides or pools",
    ),
    "cnn kernel larger than the map": (
        lambda c: c["models"]["cnn"]["arch"].update(
            blocks=[{"channels": 4, "pool": 2}, {"channels": 4, "kernel": 11, "padding": 0}]
        ),
        "models.cnn-s1.arch.blocks[1]: shrinks the 8x8 feature map to 0x0 (kernel 11, padding 0; sizes 16 -> 8 -> -2); "
        "use fewer blocks or smaller kernels, strides or pools",
    ),
    "cnn swept into nothing": (
        lambda c: c["sweeps"].update(deep={"base": "cnn", "grid": {"arch.blocks": [SEVEN_POOLS[:2], SEVEN_POOLS]}}),
        "sweeps.deep.grid.arch.blocks: value "
        + repr(SEVEN_POOLS)
        + ": arch.blocks[4]: shrinks the 1x1 feature map to 0x0 (kernel 3, pool 2; "
        "sizes 16 -> 8 -> 4 -> 2 -> 1 -> 0); use fewer blocks or smaller kernels, strides or pools",
    ),
}


def test_the_tiny_config_still_passes(tiny):
    models = load_and_check(tiny, SCHEMA)["models"]
    assert {"lr-lr0.01", "lr-lr0.1"} <= set(models)


@pytest.mark.parametrize("case", list(MISTAKES))
def test_a_mistake_is_refused_naming_where_and_what(tiny, case):
    edit, message = MISTAKES[case]
    edit(tiny)
    with pytest.raises(ConfigError) as error:
        load_and_check(tiny, SCHEMA)
    assert str(error.value) == message


def test_a_grid_into_a_cnn_block_that_fits_is_accepted(tiny):
    tiny["sweeps"]["pools"] = {"base": "cnn", "grid": {"arch.blocks.1.pool": [None, 2]}}
    models = load_and_check(copy.deepcopy(tiny), SCHEMA)["models"]
    assert [models[f"pools-pool{v}"]["arch"]["blocks"][1].get("pool") for v in ("None", "2")] == [None, 2]


# ------------------------------------------------------------------- python -m maskflow.config


def config_command(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    return subprocess.run(
        [sys.executable, "-m", "maskflow.config", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def write_config(tmp_path, edit) -> str:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_help_describes_the_command():
    process = config_command("--help")
    assert process.returncode == 0, process.stderr
    assert process.stdout.startswith("usage: python -m maskflow.config [-h] [-q] [--no-data-check] [FILE ...]")
    assert "--configfile" in process.stdout and process.stderr == ""


def test_a_missing_file_is_one_line(tmp_path):
    process = config_command(str(tmp_path / "nope.yaml"))
    assert process.returncode == 1
    assert process.stderr == f"config: {tmp_path / 'nope.yaml'}: no such file\n"


def test_a_file_that_is_not_yaml_is_one_line(tmp_path):
    (tmp_path / "broken.yaml").write_text("models:\n  a: [1, 2\n")
    process = config_command(str(tmp_path / "broken.yaml"))
    assert process.returncode == 1
    assert process.stderr.startswith(f"config: {tmp_path / 'broken.yaml'}: not valid YAML at line 3")
    assert len(process.stderr.splitlines()) == 1


def test_a_schema_error_is_the_message_alone(tmp_path):
    process = config_command(write_config(tmp_path, lambda c: c["models"]["cnn"]["train"].update(epochs="ten")))
    assert process.returncode == 1
    assert process.stderr == "config: invalid config:\n  models.cnn.train.epochs: 'ten' is not of type 'integer'\n"


def test_files_layer_key_by_key_as_configfile_does(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("models:\n  mlp_long: {base: mlp, train: {epochs: 3}}\n  mlp: {train: {lr: 0.5}}\n")
    process = config_command(str(TINY_CONFIG), str(extra))
    assert process.returncode == 0, process.stderr
    models = yaml.safe_load(process.stdout)["models"]
    assert models["mlp_long"]["train"]["epochs"] == 3
    assert models["mlp"]["train"]["lr"] == 0.5 and models["mlp"]["arch"]["type"] == "mlp"  # merged, not replaced
    assert "cnn-s1" in models  # the first file's models stay
    quiet = config_command("--quiet", str(TINY_CONFIG), str(extra))
    assert quiet.stdout == f"config: {TINY_CONFIG} + {extra}: valid (1 dataset(s), 8 model(s), 1 ensemble(s))\n"


# ---------------------------------------------------------------- what `snakemake -n` shows

# The same mistakes through Snakemake and through the command: one schema error, one sweep, one
# shape, one missing data file.
SAME_MESSAGE = {
    "schema": lambda c: c.update(colour="blue"),
    "sweep": MISTAKES["repeated grid value"][0],
    "cnn": MISTAKES["cnn shrinks the crops to nothing"][0],
    "missing data": lambda c: c["datasets"]["masks"].update(
        source={"kind": "path", "path": "data/nowhere", "hint": "put the photos there"}
    ),
}


@pytest.mark.workflow
@pytest.mark.parametrize("case", list(SAME_MESSAGE))
def test_snakemake_prints_the_message_first_and_no_frame(tmp_path, case):
    path = write_config(tmp_path, SAME_MESSAGE[case])
    process = run_snakemake(tmp_path, "-n", config=path, check=False)
    assert process.returncode == 1
    # Snakemake names the profile it read before it reads the Snakefile; the message comes next.
    lines = [line for line in process.stderr.splitlines() if not line.startswith("Using workflow specific profile")]
    assert lines[0].startswith("config: "), process.stderr
    for frame in ("WorkflowError", "common.smk", 'File "', "Traceback", ", line "):
        assert frame not in process.stderr, process.stderr
    # python -m maskflow.config, run where snakemake ran, says the same
    command = config_command(path, cwd=tmp_path)
    assert command.returncode == 1
    assert command.stderr.splitlines() == lines


def test_data_presence_can_be_left_unchecked(tmp_path):
    # CI checks a preset without its data: the data check alone is skipped, the rest still runs
    missing = write_config(
        tmp_path, lambda c: c["datasets"]["masks"].update(source={"kind": "path", "path": "data/nowhere"})
    )
    assert "source path 'data/nowhere' not found" in config_command(missing, cwd=tmp_path).stderr
    assert config_command("--no-data-check", "--quiet", missing, cwd=tmp_path).returncode == 0
    broken = write_config(tmp_path, MISTAKES["repeated grid value"][0])
    assert config_command("--no-data-check", broken).stderr.startswith("config: sweeps.lr.grid.train.lr: value 0.05")
