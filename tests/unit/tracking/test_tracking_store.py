"""The tracking store's failures (maskflow.tracking.store): each one line naming the URI, the cause
and the remedy, exit status 2, never a traceback. Real SQLite files and a real closed port."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maskflow.tracking import store

from helpers.mlflow_store import set_schema


def track_store(tmp_path: Path, uri: str) -> subprocess.CompletedProcess:
    settings = json.dumps({"uri": uri, "artifacts": str(tmp_path / "mlartifacts")})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "maskflow",
            "track",
            "store",
            "--settings",
            settings,
            "--out",
            str(tmp_path / "store.json"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(process: subprocess.CompletedProcess) -> str:
    assert process.returncode == 2, process.stderr
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    assert "Traceback" not in process.stderr and len(lines) == 1, process.stderr
    return lines[0]


@pytest.fixture
def fresh(tmp_path) -> tuple[Path, str]:
    """A store created by this MLflow."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store.ensure(uri, str(tmp_path / "mlartifacts"))
    return tmp_path / "mlflow.db", uri


def test_ensure_creates_and_migrates_once_and_accepts_its_own_store(fresh, tmp_path):
    db, uri = fresh
    revision = sqlite3.connect(db).execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert store.ensure(uri, str(tmp_path / "mlartifacts")) == revision  # opening again changes nothing


def test_store_of_a_newer_mlflow_is_refused_with_one_line(fresh, tmp_path):
    db, uri = fresh
    set_schema(db, "ffffffffffff")
    line = one_error_line(track_store(tmp_path, uri))
    assert line.startswith(f"maskflow track: error: tracking store {uri}: made by a newer MLflow")
    assert "ffffffffffff" in line and "results/ is intact" in line
    assert sqlite3.connect(db).execute("SELECT version_num FROM alembic_version").fetchone()[0] == "ffffffffffff"


def test_store_of_an_older_mlflow_names_mlflow_db_upgrade(fresh, tmp_path):
    db, uri = fresh
    set_schema(db, "451aebb31d03")  # MLflow's first schema revision
    line = one_error_line(track_store(tmp_path, uri))
    assert f"`mlflow db upgrade {uri}`" in line and "older MLflow" in line


def test_unreachable_server_fails_with_one_line(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"  # nothing listens: the socket is closed again
    line = one_error_line(track_store(tmp_path, uri))
    assert f"tracking store {uri}: the tracking server does not answer" in line


def test_locked_store_fails_after_the_busy_timeout_with_one_line(fresh, tmp_path):
    db, uri = fresh
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing for longer than SQLite's busy timeout
    try:
        started = time.monotonic()
        line = one_error_line(track_store(tmp_path, uri))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert f"tracking store {uri}: locked by another process" in line
    assert time.monotonic() - started > 5  # it waited for the lock before giving up


def test_not_a_tracking_uri_is_one_line(tmp_path):
    line = one_error_line(track_store(tmp_path, "ftp://example.org/x"))
    assert "tracking.uri 'ftp://example.org/x': not a tracking URI" in line


def test_runs_go_to_an_mlflow_server_once(tmp_path):
    """tracking.uri: http://... (a shared server, the cluster's setting): the same logging, over REST."""
    from maskflow.tracking.log import log_record
    from maskflow.tracking.record import Record

    from helpers.mlflow_server import api, mlflow_server

    done = Record(
        name="cnn",
        experiment="masks",
        training_id="t-1",
        tags={"maskflow.model": "cnn"},
        params={"train.lr": "0.01"},
        series={"val_acc": [(1, 0.5, 1_700_000_001_000), (2, 0.6, 1_700_000_002_000)]},
        final={"test_accuracy": 0.7},
        start_ms=1_700_000_000_000,
        end_ms=1_700_000_002_000,
    )
    with mlflow_server(tmp_path, f"sqlite:///{tmp_path / 'server.db'}") as base:
        assert store.ensure(base, "unused") == "server"
        client = store.client(base)
        run_id, created = log_record(client, done, store.artifact_location(base, "unused", "masks"))
        assert created and log_record(client, done, None) == (run_id, False)  # found by its training id
        experiment = api(base, "experiments/get-by-name?experiment_name=masks")["experiment"]["experiment_id"]
        (found,) = api(base, "runs/search", {"experiment_ids": [experiment]})["runs"]
        assert found["info"]["run_id"] == run_id and found["info"]["status"] == "FINISHED"
