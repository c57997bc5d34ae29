"""Run history end to end (docs/history.md): real Snakemake runs of tests/config/tracking.yaml
(three NumPy MLPs, a two-member sweep and an ensemble) recording into a real MLflow SQLite store
in a temp folder.

The tests run in order on one working folder, each a step of a user's week: a first run on a
fresh store with --cores 8 (parallel logging), a no-op rerun, a rerun after lost markers, one
edited learning rate, one sweep member retrained, a store made by a newer MLflow, and deleting
results/. The store is read
with plain sqlite3 (tests/helpers/mlflow_store.py), not through maskflow.tracking.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT
from helpers.mlflow_store import metric_steps, params_of, run_counts, run_ids, runs, set_schema, tags_of
from helpers.snakemake import job_stats, run_snakemake

pytestmark = pytest.mark.workflow

CONFIG = ROOT / "tests" / "config" / "tracking.yaml"
MEMBERS = ("lr-lr0.02", "lr-lr0.03")  # the sweep's: no track job of their own
MODELS = {"a": 1, "ab": 1, "b": 1, "c": 1, **dict.fromkeys(MEMBERS, 1)}


def config_with(tmp: Path, name: str, edit) -> Path:
    """A copy of the tracking config with `edit(config)` applied."""
    config = yaml.safe_load(CONFIG.read_text())
    edit(config)
    path = tmp / name
    path.write_text(yaml.safe_dump(config))
    return path


def set_lr(lr: float):
    def edit(config):
        config["models"]["c"]["train"]["lr"] = lr

    return edit


@pytest.fixture(scope="module")
def project(tmp_path_factory, no_slurm_bin):
    """The first run: a fresh store, 8 parallel jobs, every Python process printing its imports."""
    workdir = tmp_path_factory.mktemp("tracking")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{no_slurm_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        # -X importtime for every process: the jobs' stderr goes to their logs (`2> {log}`)
        patch.setenv("PYTHONPROFILEIMPORTTIME", "1")
        process = run_snakemake(workdir, "all", "--cores", "8", config=CONFIG)
    return workdir, process


def imports_mlflow(importtime: str) -> bool:
    """Whether `-X importtime` output lists mlflow or one of its modules."""
    return re.search(r"^import time:.*\|\s+mlflow(\.\S+)?$", importtime, re.M) is not None


def db(workdir: Path) -> Path:
    return workdir / "mlflow.db"


def test_fresh_store_and_parallel_logging_give_one_run_per_model(project):
    workdir, process = project
    assert job_stats(process.stderr)["track"] == 4
    assert run_counts(db(workdir)) == MODELS
    assert {status for _, status in runs(db(workdir))} == {"FINISHED"}
    (run_b,) = run_ids(db(workdir), "b")
    tags = tags_of(db(workdir), run_b)
    assert tags["maskflow.dataset"] == "masks" and tags["maskflow.model"] == "b" and tags["maskflow.kind"] == "model"
    assert tags["maskflow.base"] == "a" and tags["maskflow.seed"] == "1"
    assert len(tags["maskflow.training_id"]) == 32 and tags["maskflow.data_sha256"]
    params = params_of(db(workdir), run_b)
    assert params["train.lr"] == "0.1" and params["arch.hidden.0"] == "8" and params["arch.type"] == "numpy_mlp"
    curve = metric_steps(db(workdir), run_b, "val_acc")
    assert [step for step, _, _ in curve] == [1, 2, 3]
    assert [t for _, _, t in curve] == sorted(t for _, _, t in curve)  # the epochs' own times
    final = metric_steps(db(workdir), run_b, "test_balanced_accuracy")
    assert len(final) == 1
    (run_ab,) = run_ids(db(workdir), "ab")
    assert tags_of(db(workdir), run_ab)["maskflow.kind"] == "ensemble"
    artifacts = workdir / "mlartifacts" / "masks" / run_b / "artifacts"
    assert (artifacts / "checkpoint" / "checkpoint.pt").is_file() and (artifacts / "metrics.json").is_file()
    assert (artifacts / "figures" / "learning_curves.png").is_file()
    # A sweep member's run, built and logged by the history job: no track job, no marker.
    (run_member,) = run_ids(db(workdir), "lr-lr0.02")
    tags = tags_of(db(workdir), run_member)
    assert tags["maskflow.sweep"] == "lr" and tags["maskflow.base"] == "a" and len(tags["maskflow.training_id"]) == 32
    assert tags["maskflow.git_commit"] == tags_of(db(workdir), run_b)["maskflow.git_commit"]
    assert params_of(db(workdir), run_member)["train.lr"] == "0.02"
    assert [step for step, _, _ in metric_steps(db(workdir), run_member, "val_acc")] == [1, 2, 3]
    assert len(metric_steps(db(workdir), run_member, "test_accuracy")) == 1
    markers = {path.stem for path in (workdir / "results" / "masks" / "tracking" / "runs").glob("*.json")}
    assert markers == MODELS.keys() - set(MEMBERS)


def test_no_mlflow_import_at_parse_or_in_train_evaluate_and_track_jobs(project):
    workdir, process = project
    logs = workdir / "results" / "masks" / "logs"
    logging_log = (logs / "track_history.log").read_text()
    assert imports_mlflow(logging_log)  # the check sees an mlflow import where there is one
    # a model's track job reads its files into a record: MLflow is imported once per dataset
    jobs = [*(logs / "train").glob("*.log"), *(logs / "evaluate").glob("*.log"), *(logs / "track").glob("*.log")]
    assert len(jobs) >= 11
    for log in jobs:
        text = log.read_text()
        assert "import time:" in text and not imports_mlflow(text), log
    # Snakemake's own process: parsing the workflow and scheduling every job
    assert "import time:" in process.stderr and not imports_mlflow(process.stderr)


def test_noop_rerun_and_lost_markers_record_nothing(project):
    workdir, _ = project
    rerun = run_snakemake(workdir, "all", config=CONFIG)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    for marker in (workdir / "results" / "masks" / "tracking" / "runs").glob("*.json"):
        marker.unlink()
    again = run_snakemake(workdir, "all", config=CONFIG)
    assert job_stats(again.stderr)["track"] == 4  # the tracking step ran again, without its markers...
    assert run_counts(db(workdir)) == MODELS  # ...and found every training already recorded


def test_an_edit_adds_one_run_and_history_shows_the_change(project, tmp_path):
    workdir, _ = project
    edited = config_with(tmp_path, "edited.yaml", set_lr(0.02))
    run_snakemake(workdir, "all", config=edited)
    assert run_counts(db(workdir)) == {**MODELS, "c": 2}
    shown = subprocess.run(
        [sys.executable, "-m", "maskflow", "history", "--dataset", "masks", "--model", "c"],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("c *  run 2") and re.search(r"test accuracy \d\.\d{4} \([+-]\d\.\d{4}\)", lines[0])
    assert lines[1].strip() == "train.lr: 0.01 -> 0.02"
    assert "run 1" in shown.stdout and "(first run)" in shown.stdout
    markdown = subprocess.run(
        [sys.executable, "-m", "maskflow", "history", "--dataset", "masks", "--format", "csv"],
        cwd=workdir,
        capture_output=True,
        text=True,
    ).stdout
    assert markdown.splitlines()[0].startswith("model,run,trained,new,") and "train.lr: 0.01 -> 0.02" in markdown
    report = (workdir / "results" / "report.html").read_text()
    section = report[report.index('id="history-masks"') :]
    assert "train.lr: 0.01 -&gt; 0.02" in section[: section.index("Latest run of each model")]


def test_a_retrained_member_adds_one_run_for_it_alone(project, tmp_path):
    workdir, _ = project
    edited = config_with(tmp_path, "edited.yaml", set_lr(0.02))  # as the previous step left it
    member = f"results/masks/models/{MEMBERS[0]}/checkpoint.pt"
    run_snakemake(workdir, "all", "--forcerun", member, config=edited)
    assert run_counts(db(workdir)) == {**MODELS, "c": 2, MEMBERS[0]: 2}


def test_a_store_made_by_a_newer_mlflow_fails_with_one_line_and_loses_nothing(project, tmp_path):
    workdir, _ = project
    old = set_schema(db(workdir), "ffffffffffff")
    edited = config_with(tmp_path, "newer.yaml", set_lr(0.03))
    failed = run_snakemake(workdir, "all", config=edited, check=False)
    assert failed.returncode != 0
    log = (workdir / "results" / "masks" / "logs" / "track_history.log").read_text()
    errors = [line for line in log.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in log, log
    assert "tracking store sqlite:///mlflow.db: made by a newer MLflow" in errors[0]
    assert "results/ is intact" in errors[0]
    # the retrained model's results are all there
    metrics = yaml.safe_load((workdir / "results" / "masks" / "models" / "c" / "metrics.json").read_text())
    assert metrics["spec"]["train"]["lr"] == 0.03
    assert (workdir / "results" / "masks" / "models" / "c" / "checkpoint.pt").is_file()
    set_schema(db(workdir), old)
    run_snakemake(workdir, "all", config=edited)  # the next run records what was missed
    assert run_counts(db(workdir)) == {**MODELS, "c": 3, MEMBERS[0]: 2}


def test_history_is_kept_after_results_are_deleted(project, tmp_path):
    workdir, _ = project
    shutil.rmtree(workdir / "results")
    edited = config_with(tmp_path, "same.yaml", set_lr(0.03))
    run_snakemake(workdir, "all", config=edited)
    # every model trained once more: one new run each, the earlier ones kept
    assert run_counts(db(workdir)) == {"a": 2, "ab": 2, "b": 2, "c": 4, MEMBERS[0]: 3, MEMBERS[1]: 2}


def test_tracking_off_plans_no_tracking_job(tmp_path):
    off = config_with(tmp_path, "off.yaml", lambda config: config.update(tracking={"enabled": False}))
    on = run_snakemake(tmp_path / "on", "all", "-n", config=CONFIG)
    planned = run_snakemake(tmp_path / "off", "all", "-n", config=off)
    assert {"track_store", "track", "track_history"} <= set(job_stats(on.stdout + on.stderr))
    assert "report" in job_stats(planned.stdout + planned.stderr)
    assert not {"track_store", "track", "track_history"} & set(job_stats(planned.stdout + planned.stderr))
