"""A real `mlflow server` on 127.0.0.1 (a free port) for tests, stopped as one process group.

from helpers.mlflow_server import mlflow_server, api
with mlflow_server(folder, "sqlite:///.../mlflow.db") as base:    # base: http://127.0.0.1:PORT
    api(base, "runs/search", {"experiment_ids": ["1"]})
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

MLFLOW = Path(sys.executable).with_name("mlflow")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def group_members(pgid: int, timeout: float) -> list[str]:
    """Live (not zombie) processes of a process group, waiting up to `timeout` for them to exit."""
    deadline = time.monotonic() + timeout
    while True:
        listed = subprocess.run(["ps", "-e", "-o", "pgid=,stat=,args="], capture_output=True, text=True).stdout
        left = [
            line.strip()
            for line in listed.splitlines()
            if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


@contextlib.contextmanager
def mlflow_server(folder: Path, backend: str, *args: str) -> Iterator[str]:
    """Serve `backend` (a tracking store URI); yields the base URL. On exit the whole process
    group gets SIGTERM, and the exit fails if any of it is still alive 30 s later."""
    port = free_port()
    log_path = folder / "mlflow-server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(MLFLOW), "server", "--backend-store-uri", backend, "--host", "127.0.0.1", "--port", str(port)]
            + ["--workers", "1", *args],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
            start_new_session=True,  # its own process group: the workers it forks stop with it
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=5) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"mlflow server did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            left = group_members(process.pid, timeout=30)
            if left:
                os.killpg(process.pid, signal.SIGKILL)
            assert not left, f"mlflow server processes left after SIGTERM to its group: {left}"


def api(base: str, path: str, body: dict | None = None) -> dict:
    """One call of MLflow's REST API (GET without a body, POST with one)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/api/2.0/mlflow/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())
