"""Every figure is a target of its own: after a full tiny run, deleting one figure and naming
its path reruns exactly that one job, and `snakemake -n all` schedules nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from helpers.snakemake import SNAKEMAKE, copy_tree, job_stats, run_snakemake, snakemake_command

pytestmark = pytest.mark.workflow


@pytest.fixture
def finished(tiny_run, tmp_path):
    """A private copy of the full tiny run (timestamps kept), to delete things from."""
    return copy_tree(tiny_run, tmp_path / "run")


def test_dry_run_after_a_full_run_schedules_nothing(finished):
    process = run_snakemake(finished, "-n", "all")
    output = process.stdout + process.stderr
    assert "Nothing to be done" in output, output[-3000:]
    assert job_stats(output) == {}


# `python -m snakemake ARGS`, writing at exit the files whose code ran an `import pandas` (even of
# an already imported pandas: the SLURM executor plugin, where installed, imports it first).
PANDAS_IMPORTERS_AT_EXIT = """
import atexit, builtins, runpy, sys
report, importers, original = sys.argv.pop(1), set(), builtins.__import__
def watching(name, globals=None, locals=None, fromlist=(), level=0):
    if name == "pandas" or name.startswith("pandas."):
        importers.add(sys._getframe(1).f_code.co_filename)
    return original(name, globals, locals, fromlist, level)
builtins.__import__ = watching
atexit.register(lambda: open(report, "w").write("\\n".join(sorted(importers))))
sys.argv = ["snakemake", *sys.argv[1:]]
runpy.run_module("snakemake", run_name="__main__")
"""


def test_checking_a_built_tree_runs_no_import_of_pandas_for_the_params(finished, tmp_path):
    """Snakemake imports pandas (0.45 s) to compare params with their records whenever pandas is
    installed; maskflow's params are never pandas objects, so the workflow has it compare them
    without (maskflow.runtime.snakemake_patches.params_without_pandas). A changed param still reruns
    its job: tests/unit/training/test_train.py edits a learning rate."""
    report = tmp_path / "importers.txt"
    command = snakemake_command(finished, "-n", "all")
    assert command[: len(SNAKEMAKE)] == SNAKEMAKE
    command = [sys.executable, "-c", PANDAS_IMPORTERS_AT_EXIT, str(report), *command[len(SNAKEMAKE) :]]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    process = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert process.returncode == 0 and "Nothing to be done" in process.stdout + process.stderr, process.stderr[-3000:]
    importers = report.read_text().splitlines()
    assert not [path for path in importers if "snakemake" + os.sep + "persistence" in path], importers
    assert not [path for path in importers if "maskflow" in path], importers


@pytest.mark.parametrize(
    "path, rule",
    [
        ("results/masks/models/mlp/checkpoint.pt", "train"),
        ("results/masks/models/cnn-s1/history.csv", "train"),
        ("results/masks/models/cnn-s2/predictions_train.csv", "evaluate_model"),
        ("results/masks/models/ens/predictions_val.csv", "evaluate_ensemble"),
    ],
)
def test_a_deleted_output_of_a_train_or_evaluate_job_is_made_again_by_all(finished, path, rule):
    """Snakemake reruns a job only for the outputs someone asks for (a target or a downstream
    job's input), so `all` names every output a user keeps, not just the files at the ends of
    the graph."""
    (finished / path).unlink()
    process = run_snakemake(finished, "-n", "all")
    assert job_stats(process.stdout + process.stderr).get(rule) == 1, process.stdout[-3000:]


@pytest.mark.parametrize(
    "model, figure, rule",
    [
        ("cnn-s1", "saliency", "figure_saliency"),
        ("ens", "confusion_matrix_test", "figure_confusion_matrix"),
        ("mlp", "latent", "figure_latent"),
        ("cnn_aug", "overlays_test", "figure_overlays"),
    ],
)
def test_deleting_one_figure_reruns_exactly_that_job(finished, model, figure, rule):
    target = f"results/masks/figures/{model}/{figure}.png"
    path = finished / target
    before = path.read_bytes()
    path.unlink()
    process = run_snakemake(finished, target)
    assert job_stats(process.stdout + process.stderr) == {rule: 1, "total": 1}
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(path.read_bytes()) > 0.5 * len(before)


def test_every_figure_of_the_readme_pattern_exists(finished):
    figures = {p.relative_to(finished).as_posix() for p in (finished / "results").glob("*/figures/*/*.png")}
    for model in ("cnn-s1", "cnn-s2", "cnn_aug", "mlp", "ens"):
        for name in (
            "confusion_matrix_val",
            "confusion_matrix_test",
            "per_class_accuracy",
            "misclassified_test",
            "overlays_test",
        ):
            assert f"results/masks/figures/{model}/{name}.png" in figures
    # sweep members: the sweep's own table and curves compare them; none draws figures of its own
    for model in ("lr-lr0.01", "lr-lr0.1"):
        assert not [path for path in figures if path.startswith(f"results/masks/figures/{model}/")]
    for model in ("cnn-s1", "cnn_aug", "mlp"):
        assert f"results/masks/figures/{model}/learning_curves.png" in figures
        assert f"results/masks/figures/{model}/saliency.png" in figures
        assert f"results/masks/figures/{model}/latent.png" in figures
    assert "results/masks/figures/cnn-s1/filters.png" in figures
    assert "results/masks/figures/mlp/filters.png" not in figures  # CNNs only
    assert "results/masks/figures/ens/learning_curves.png" not in figures  # ensembles: prediction figures only


def test_a_path_naming_no_model_of_the_config_stops_saying_so(finished):
    """The rules' {model} constraint admits any name (a list of hundreds slowed planning down)."""
    process = run_snakemake(finished, "-n", "results/masks/figures/nope/confusion_matrix_test.png", check=False)
    output = process.stdout + process.stderr
    assert process.returncode != 0
    # the first rule whose input function meets the name says it (train's, since its resources ask
    # the model registry; a figure's would add "or ensemble")
    assert re.search(r"'nope' is not a model (or ensemble )?of this config \(7 defined: cnn-s1,", output), output[
        -3000:
    ]
