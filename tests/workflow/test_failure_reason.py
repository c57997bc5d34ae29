"""A failed job's one-line reason reaches the terminal (issue 29.4): for MNIST without network
the hint (download it elsewhere, put it at data/mnist.npz) used to sit only in
results/mnist/logs/fetch.log, behind Snakemake's CalledProcessError and the shell command printed
three times. The workflow's `onerror:` handler prints each failed job's log's last line last."""

from __future__ import annotations

import io

import pytest

from maskflow.runtime.failures import failed_jobs, report_failures

from helpers import ROOT
from helpers.snakemake import run_snakemake

SNAKEMAKE_LOG = """\
Error in rule fetch:
    message: None
    jobid: 0
    output: resources/mnist/raw, resources/mnist/manifest.json
    log: results/mnist/logs/fetch.log (check log file(s) for error details)
    shell:
        python -m maskflow fetch ...
        (command exited with non-zero exit code)
Error in rule train:
    jobid: 4
    log: results/m/logs/train/a.log, results/m/logs/train/a.err (check log file(s) for error details)
Exiting because a job execution failed. Look above for error messages
"""


def test_the_failed_jobs_and_their_logs_are_read_from_snakemakes_log():
    assert failed_jobs(SNAKEMAKE_LOG) == [
        ("fetch", "", ["results/mnist/logs/fetch.log"]),
        ("train", "", ["results/m/logs/train/a.log", "results/m/logs/train/a.err"]),
    ]


def test_each_failed_logs_last_line_is_printed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results/mnist/logs").mkdir(parents=True)
    (tmp_path / "results/mnist/logs/fetch.log").write_text("INFO downloading\nmaskflow fetch: error: no network\n\n")
    (tmp_path / "snakemake.log").write_text(SNAKEMAKE_LOG)
    out = io.StringIO()
    report_failures([str(tmp_path / "snakemake.log")], out)
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == "maskflow: 2 jobs failed; the last line of each log says why:"
    assert lines[1] == "  fetch: maskflow fetch: error: no network  [results/mnist/logs/fetch.log]"
    assert lines[2].startswith("  train: its log says nothing")


@pytest.mark.workflow
def test_a_missing_mnist_download_ends_the_run_with_its_hint(tmp_path):
    # no network: a port where nothing listens; one attempt, so the run fails at once
    offline = tmp_path / "offline.yaml"
    offline.write_text('datasets:\n  mnist:\n    source: {url: "http://127.0.0.1:9/mnist.npz", retries: 0}\n')
    mnist = ROOT / "configs" / "mnist.yaml"
    process = run_snakemake(
        tmp_path, "resources/mnist/manifest.json", "--configfile", str(mnist), str(offline), config=mnist, check=False
    )
    assert process.returncode != 0
    tail = process.stderr.strip().splitlines()[-6:]
    reasons = [line for line in tail if line.startswith("  fetch: maskflow fetch: error: ")]
    assert len(reasons) == 1, "\n".join(tail)
    assert "put it at data/mnist.npz" in reasons[0] and reasons[0].endswith("[results/mnist/logs/fetch.log]")
