"""The MLflow UI on maskflow's run history (`make ui`): the real `mlflow server` on 127.0.0.1 over a
store maskflow.tracking wrote, its REST API, and Debian's headless Chromium rendering the
experiment's runs table. The server and its workers are stopped as one process group."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from maskflow.tracking import store
from maskflow.tracking.log import log_record
from maskflow.tracking.record import Record

from helpers.mlflow_server import api, mlflow_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MODELS = {"cnn_baseline": 0.01, "cnn_stride2": 0.02, "mlp_small": 0.05}
EPOCHS = 4


def record(name: str, lr: float, index: int) -> Record:
    start = 1_700_000_000_000 + index * 60_000
    return Record(
        name=name,
        experiment="masks",
        training_id=f"id-{name}",
        tags={"maskflow.dataset": "masks", "maskflow.model": name, "maskflow.kind": "model"},
        params={"train.lr": str(lr), "arch.type": "cnn"},
        series={"val_acc": [(epoch, 0.5 + epoch / 20, start + epoch * 1000) for epoch in range(1, EPOCHS + 1)]},
        final={"test_accuracy": 0.7 + index / 100, "test_balanced_accuracy": 0.6},
        start_ms=start,
        end_ms=start + EPOCHS * 1000,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    store.ensure(uri, str(folder / "mlartifacts"))
    client = store.client(uri)
    location = store.artifact_location(uri, str(folder / "mlartifacts"), "masks")
    for index, (name, lr) in enumerate(MODELS.items()):
        log_record(client, record(name, lr, index), location)
    with mlflow_server(folder, uri) as base:
        yield base, folder


def test_rest_api_returns_each_models_run_and_its_epochs(server):
    base, _ = server
    experiment = api(base, "experiments/get-by-name?experiment_name=masks")["experiment"]
    found = api(base, "runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 100})["runs"]
    by_name = {run["info"]["run_name"]: run for run in found}
    assert set(by_name) == set(MODELS)
    for name, lr in MODELS.items():
        data = by_name[name]["data"]
        assert {p["key"]: p["value"] for p in data["params"]}["train.lr"] == str(lr)
        assert {m["key"] for m in data["metrics"]} >= {"test_accuracy", "test_balanced_accuracy", "val_acc"}
    run_id = by_name["cnn_baseline"]["info"]["run_id"]
    points = api(base, f"metrics/get-history?run_id={run_id}&metric_key=val_acc")["metrics"]
    assert sorted(p["step"] for p in points) == list(range(1, EPOCHS + 1))


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`; scripts/install-system-deps.sh)"
)
def test_chromium_renders_the_runs_table(server):
    base, folder = server
    experiment = api(base, "experiments/get-by-name?experiment_name=masks")["experiment"]["experiment_id"]
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={folder / 'profile'}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            f"{base}/#/experiments/{experiment}/runs",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for name in MODELS:
        assert name in result.stdout, f"{name} not in the rendered runs table"
