"""CI cannot go green by skipping what needs system packages (SLURM, Chromium).

Under CI=true, scripts/install-system-deps.sh fails when it cannot install them, and
tests/conftest.py reports a skip of a test marked `slurm` or `browser` as a failure. Here both
run in isolation: the script with stand-in `dpkg`, `id` and `apt-get`, the hook in a pytest
run of its own (pytester) on a copy of tests/conftest.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import ROOT

pytest_plugins = ["pytester"]

INSTALL = ROOT / "scripts" / "install-system-deps.sh"
CONFTEST = ROOT / "tests" / "conftest.py"


# --- scripts/install-system-deps.sh -------------------------------------------------------


def fake_bin(folder: Path, uid: int, apt_status: int) -> Path:
    """Commands that make every package look missing, the user `uid`, and apt-get exit
    with `apt_status`."""
    folder.mkdir()
    for name, body in {
        "dpkg": "exit 1",  # dpkg -s: not installed
        "id": f"echo {uid}",
        "apt-get": f"exit {apt_status}",
    }.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def install(tmp_path: Path, uid: int, apt_status: int, ci: str | None) -> subprocess.CompletedProcess:
    env = {"PATH": f"{fake_bin(tmp_path / 'bin', uid, apt_status)}:/usr/bin:/bin"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize(
    ("uid", "apt_status", "why"),
    [(1000, 0, "not root or no apt-get"), (0, 100, "could not install chromium slurm-wlm munge")],
)
def test_install_system_deps_fails_under_ci_when_it_cannot_install(tmp_path, uid, apt_status, why):
    done = install(tmp_path, uid, apt_status, ci="true")
    assert done.returncode == 1, done.stderr
    assert why in done.stderr and "must run" in done.stderr


@pytest.mark.parametrize("ci", [None, "false", ""])
@pytest.mark.parametrize(("uid", "apt_status"), [(1000, 0), (0, 100)])
def test_install_system_deps_only_warns_outside_ci(tmp_path, uid, apt_status, ci):
    done = install(tmp_path, uid, apt_status, ci=ci)
    assert done.returncode == 0, done.stderr
    assert "will be skipped" in done.stderr


# --- the conftest hook --------------------------------------------------------------------

SKIPPING_TESTS = textwrap.dedent(
    """
    import pytest

    @pytest.mark.slurm
    def test_slurm_skips_in_its_body():
        pytest.skip("SLURM cannot be started here: no apt-get")

    @pytest.fixture(scope="module")
    def cluster():
        pytest.skip("SLURM cannot be started here: not root")

    @pytest.mark.slurm
    def test_slurm_skips_in_a_fixture(cluster):
        pass

    @pytest.mark.browser
    @pytest.mark.skipif(True, reason="chromium is not installed")
    def test_browser_skips_by_marker():
        pass

    def test_plain_skip_stays_a_skip():
        pytest.skip("nothing to do with system packages")

    @pytest.mark.slurm
    def test_slurm_that_runs():
        pass
    """
)


@pytest.fixture
def skipping_suite(pytester):
    """A test folder with the real tests/conftest.py and a test of each way to skip."""
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini(
        "[pytest]\nmarkers =\n    slurm: needs SLURM\n    browser: needs Chromium\n    workflow: end to end\n"
    )
    pytester.makepyfile(test_skipping=SKIPPING_TESTS)
    return pytester


def test_under_ci_a_skipped_slurm_or_browser_test_fails(skipping_suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("REQUIRE_SYSTEM_TESTS", raising=False)
    result = skipping_suite.runpytest_subprocess("-rA", "-p", "no:cacheprovider")
    # A skip in the test body fails it; a skip while setting it up (skipif, a skipping
    # fixture) is a setup error. Either way the run is red.
    result.assert_outcomes(passed=1, failed=1, errors=2, skipped=1)
    assert result.ret != 0
    for line in (
        "FAILED *test_slurm_skips_in_its_body*",
        "ERROR *test_slurm_skips_in_a_fixture*",
        "ERROR *test_browser_skips_by_marker*",
        "SKIPPED *nothing to do with system packages*",
    ):
        result.stdout.fnmatch_lines([line])
    result.stdout.fnmatch_lines(
        ["*skipped under CI (CI=true), where tests marked slurm must run: SLURM cannot be started here: no apt-get*"]
    )
    result.stdout.fnmatch_lines(["*tests marked browser must run: chromium is not installed*"])


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_they_merely_skip(skipping_suite, monkeypatch, ci):
    monkeypatch.delenv("REQUIRE_SYSTEM_TESTS", raising=False)  # `make test` as root sets it
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = skipping_suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4)
    assert result.ret == 0


def test_the_chromium_tests_are_marked_browser():
    """The hook knows the browser tests by their marker: every Chromium test of test_report.py
    carries it."""
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "browser",
            str(ROOT / "tests" / "unit" / "report" / "test_report.py"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    marked = {line.split("::")[-1] for line in listed.stdout.splitlines() if "::" in line}
    assert {"test_chromium_renders_every_image", "test_workflow_report_opens_in_chromium"} <= marked
    assert all("chromium" in name for name in marked), marked
