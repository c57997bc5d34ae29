"""maskflow.runtime.fast_exit: a successful `python -m maskflow` job skips the interpreter's teardown
and loses nothing it printed or logged; exit handlers run where something needs them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from maskflow import cli

from helpers import ROOT

FER = ROOT / "configs" / "fer2013.yaml"

# A process that prints 200 kB (block-buffered into a pipe), logs, registers an exit handler,
# then ends as a maskflow job does. The exit handler's line says whether teardown ran.
PROCESS = """
import atexit, logging, sys, types
logging.basicConfig(filename={log!r}, level=logging.INFO)
logging.getLogger("job").info("last log line")
atexit.register(lambda: print("teardown ran", file=sys.stderr))
{setup}
print("x" * 200_000)
from maskflow.runtime.fast_exit import exit_without_teardown
exit_without_teardown()
"""


# Output to a pipe is block-buffered, as where Snakemake runs a job (unless PYTHONUNBUFFERED is set).
BUFFERED = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}


def run(tmp_path, setup: str = "") -> subprocess.CompletedProcess:
    code = PROCESS.format(log=str(tmp_path / "job.log"), setup=setup)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=BUFFERED)


def test_a_finished_job_skips_teardown_and_keeps_its_output_and_log(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 0
    assert result.stdout == "x" * 200_000 + "\n"
    assert "last log line" in (tmp_path / "job.log").read_text()
    assert "teardown ran" not in result.stderr


@pytest.mark.parametrize(
    "setup",
    [
        "sys.modules['mlflow'] = types.ModuleType('mlflow')  # MLflow ends its runs at exit",
        "sys.settrace(lambda *a: None)  # coverage and debuggers write at exit",
        "import multiprocessing, time; multiprocessing.Process(target=time.sleep, args=(0.5,)).start()",
    ],
    ids=["mlflow", "tracer", "child process"],
)
def test_exit_handlers_run_where_something_needs_them(tmp_path, setup):
    result = run(tmp_path, setup)
    assert result.returncode == 0 and "teardown ran" in result.stderr
    assert result.stdout == "x" * 200_000 + "\n"


def test_python_m_maskflow_prints_what_the_command_line_prints(capsys):
    """The workflow's way of running a job (torch imported, stdout a pipe) against main() in-process."""
    cli.main(["summary", "--config", str(FER), "--model", "fer_leaky48"])
    expected = capsys.readouterr().out
    result = subprocess.run(
        [sys.executable, "-m", "maskflow", "summary", "--config", str(FER), "--model", "fer_leaky48"],
        capture_output=True,
        text=True,
        timeout=120,
        env=BUFFERED,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == expected and "Total params" in expected
