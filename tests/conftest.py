"""Shared fixtures and hooks: one full tiny run shared by the end-to-end tests, no SLURM probe
outside the SLURM tests, and CI's rule that some tests must not skip. Helpers the test modules
import (run_snakemake, ROOT, ...) live in tests/helpers/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# First: maskflow sets MKL's reproducibility mode, which MKL reads at its first call (maskflow/__init__.py).
import maskflow  # noqa: F401


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
    # Imported here: tests/workflow/test_system_state.py runs this file alone, without tests/ on sys.path.
    from helpers.snakemake import run_snakemake

    workdir = tmp_path_factory.mktemp("tiny")
    with pytest.MonkeyPatch.context() as patch:  # session scope: set up before the autouse one
        patch.setenv("PATH", f"{no_slurm_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        run_snakemake(workdir, "all")
    return workdir


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path


# Under CI a test that needs a system package must run: a green CI run that skipped the SLURM
# or browser tests (apt failed, chromium missing) would claim what it never checked.
MUST_RUN_UNDER_CI = ("slurm", "browser")


def under_ci() -> bool:
    """CI=true (GitHub Actions, GitLab CI and most others set it; so does .ci/run), or
    REQUIRE_SYSTEM_TESTS=1 (the Makefile sets it for `make test` as root)."""
    return bool(required_by())


def required_by() -> str:
    """Why the system-package tests must run here ('' when they may skip)."""
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        return f"under CI (CI={os.environ['CI']})"
    if os.environ.get("REQUIRE_SYSTEM_TESTS", "").strip() == "1":
        return "with REQUIRE_SYSTEM_TESTS=1 (make test as root)"
    return ""


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
        f"skipped {required_by()}, where tests marked {'/'.join(marks)} must run: {reason}\n"
        "Install what they need first (scripts/install-system-deps.sh, as root)."
    )
