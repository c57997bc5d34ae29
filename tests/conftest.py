"""Shared fixtures: the repository root, and a way to run Snakemake on a tiny config in a
temporary folder (real runs, real files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "tests" / "config" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run_snakemake(workdir: Path, *args: str, config: Path = TINY_CONFIG, check: bool = True, timeout: float = 600):
    """Run the repository's Snakefile in `workdir` (results land there) and return the process."""
    command = [
        *SNAKEMAKE,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        "--cores",
        "2",
        *args,
    ]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    process = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and process.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({process.returncode}):\n{process.stdout[-4000:]}\n{process.stderr[-8000:]}"
        )
    return process


@pytest.fixture(scope="session")
def no_slurm_bin(tmp_path_factory) -> Path:
    """A folder whose `scontrol` fails at once. The SLURM executor plugin runs `scontrol show
    config` whenever Snakemake loads its plugins, local runs included; where SLURM's client tools
    are installed but no controller runs (CI after the SLURM test stopped its cluster), that
    waits ~9 s at every Snakemake start."""
    folder = tmp_path_factory.mktemp("no-slurm-bin")
    (folder / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (folder / "scontrol").chmod(0o755)
    return folder


@pytest.fixture(autouse=True)
def _no_slurm_probe_outside_slurm_tests(request, monkeypatch, no_slurm_bin):
    if request.node.get_closest_marker("slurm") is None:
        monkeypatch.setenv("PATH", f"{no_slurm_bin}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, no_slurm_bin) -> Path:
    """One full run of the tiny config, shared by the end-to-end tests that only read results."""
    workdir = tmp_path_factory.mktemp("tiny")
    with pytest.MonkeyPatch.context() as patch:  # session scope: set up before the autouse one
        patch.setenv("PATH", f"{no_slurm_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        run_snakemake(workdir, "all")
    return workdir


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return dst


# Under CI a test that needs a system package must run: a green CI run that skipped the SLURM
# or browser tests (apt failed, chromium missing) would claim what it never checked.
MUST_RUN_UNDER_CI = ("slurm", "browser")


def under_ci() -> bool:
    """CI=true (GitHub Actions, GitLab CI and most others set it)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI, a skip of a test marked `slurm` or `browser` is reported as a failure."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and under_ci()) or hasattr(report, "wasxfail"):
        return
    marks = [name for name in MUST_RUN_UNDER_CI if item.get_closest_marker(name)]
    if not marks:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI (CI={os.environ['CI']}), where tests marked {'/'.join(marks)} must run: {reason}\n"
        "Install what they need first (scripts/install-system-deps.sh, as root)."
    )
