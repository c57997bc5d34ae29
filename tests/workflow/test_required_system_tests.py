"""`.ci/run` and `make test` as root cannot go green without the browser and SLURM tests.

.ci/run exports CI=true itself; the Makefile exports REQUIRE_SYSTEM_TESTS=1 when run as root.
Either makes scripts/install-system-deps.sh fail when chromium, slurm-wlm or munge cannot be
installed, and tests/conftest.py report a skip of a test marked `slurm` or `browser` (a cluster
that did not start, a missing chromium) as a failure. The Makefile and .ci/run run here with
stand-in `make`, `id` and `pytest`; the script with stand-in `dpkg`, `id` and `apt-get`.

Run: pytest -q tests/workflow/test_required_system_tests.py
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_system_state import INSTALL, fake_bin, skipping_suite  # noqa: F401 (skipping_suite is a fixture)

from helpers import ROOT

pytest_plugins = ["pytester"]


def stand_ins(folder: Path, **bodies: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in bodies.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def test_ci_run_sets_ci_true_itself(tmp_path):
    fake = stand_ins(tmp_path / "bin", make='echo "make $* CI=$CI"')
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(
        [str(ROOT / ".ci" / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PATH": f"{fake}{os.pathsep}{env['PATH']}"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "make test CI=true"  # the README's test command, under CI=true


@pytest.mark.parametrize(("uid", "given", "required"), [("0", None, "1"), ("1000", None, "0"), ("0", "0", "0")])
def test_make_test_requires_the_system_tests_as_root(tmp_path, uid, given, required):
    """`make test` hands pytest (and the install script) REQUIRE_SYSTEM_TESTS=1 as root."""
    fake = stand_ins(tmp_path / "bin", id=f"echo {uid}", pytest='echo "pytest $* REQUIRE=$REQUIRE_SYSTEM_TESTS"')
    env = {k: v for k, v in os.environ.items() if k not in ("REQUIRE_SYSTEM_TESTS", "MAKEFLAGS", "MAKELEVEL")}
    # the venv and the install script are left out (-o): only the pytest step runs, from BIN
    command = ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed-test", "-o", "system-deps", "test"]
    command += [f"BIN={fake}"] + ([f"REQUIRE_SYSTEM_TESTS={given}"] if given is not None else [])
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**env, "PATH": f"{fake}{os.pathsep}{env['PATH']}"}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"pytest -q REQUIRE={required}"


@pytest.mark.parametrize(("uid", "apt_status"), [(1000, 0), (0, 100)])
def test_install_system_deps_fails_when_required_without_ci(tmp_path, uid, apt_status):
    env = {"PATH": f"{fake_bin(tmp_path / 'bin', uid, apt_status)}:/usr/bin:/bin", "REQUIRE_SYSTEM_TESTS": "1"}
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1, done.stderr
    assert "with REQUIRE_SYSTEM_TESTS=1 (make test as root) the tests needing" in done.stderr


def test_when_required_a_skipped_slurm_or_browser_test_fails(skipping_suite, monkeypatch):  # noqa: F811
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("REQUIRE_SYSTEM_TESTS", "1")
    result = skipping_suite.runpytest_subprocess("-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=2, skipped=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*skipped with REQUIRE_SYSTEM_TESTS=1 (make test as root), where tests marked slurm must run: "
            "SLURM cannot be started here: no apt-get*"
        ]
    )
