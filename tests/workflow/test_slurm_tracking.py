"""The run history under the SLURM profile, on the real one-node cluster of tests/workflow/test_slurm.py
(its `slurm_cluster` fixture and helpers): the tracking jobs run on the submitting host, never as
SLURM jobs, and `tracking.uri: http://...` sends the runs to a shared MLflow server (a real
`mlflow server` on 127.0.0.1 here). Run it under `flock /tmp/maskflow-slurm.lock`: the cluster is
shared."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from test_slurm import (  # noqa: F401  (slurm_cluster is a fixture)
    RUN_TIMEOUT,
    finished,
    run_id,
    site_profile,
    slurm_cluster,
    slurm_jobs,
    snakemake_command,
)

from helpers import ROOT
from helpers.mlflow_server import api, mlflow_server

pytestmark = pytest.mark.slurm

CONFIG = ROOT / "tests" / "config" / "tracking.yaml"
MODELS = {"a", "b", "c", "ab", "lr-lr0.02", "lr-lr0.03"}  # the last two: a sweep's members


@pytest.mark.usefixtures("slurm_cluster")
def test_tracking_runs_on_the_submitting_host_and_logs_to_a_server(tmp_path):
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    with mlflow_server(server_dir, f"sqlite:///{server_dir / 'mlflow.db'}") as base:
        config = yaml.safe_load(CONFIG.read_text())
        config["tracking"] = {"uri": base}
        configfile = tmp_path / "tracking-server.yaml"
        configfile.write_text(yaml.safe_dump(config))
        workdir = tmp_path / "work"
        profile = site_profile(tmp_path / "profile")
        done = subprocess.run(
            snakemake_command(
                workdir, profile, "all", "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(configfile)
            ),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        finished(done, done.stdout, done.stderr)
        comments = {job["comment"] for job in slurm_jobs(run_id(done.stderr))}
        # training went to SLURM (a CPU model's train and evaluate travel in the small_jobs group)
        assert any(comment.startswith(("rule_train_", "rule_small_jobs_")) for comment in comments), comments
        assert not any("track" in comment for comment in comments), comments
        assert "localrule track:" in done.stderr and "localrule track_store:" in done.stderr
        experiment = api(base, "experiments/get-by-name?experiment_name=masks")["experiment"]
        found = api(base, "runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 100})
        assert sorted(run["info"]["run_name"] for run in found["runs"]) == sorted(MODELS)
        assert not (workdir / "mlflow.db").exists()  # nothing went to a SQLite file on the shared disk
