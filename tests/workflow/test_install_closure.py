"""`make run`'s install (`pip install -e .`, no extras) brings everything the README's commands
need: `snakemake --report` imports pygments, which Snakemake installs only with its `reports`
extra (issue 29.1; the test extra used to hide it, since pytest depends on pygments).

How: the closure of pyproject.toml's `[project].dependencies` is walked through the installed
distributions' own requirements (importlib.metadata), with extras and environment markers as pip
evaluates them. A real `pip install -e .` in a fresh venv would also fetch torch (and on Linux
its CUDA wheels, gigabytes) for every test run; the closure is what that install resolves to,
read from the packages already installed here.
"""

from __future__ import annotations

import importlib.metadata as metadata
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers import ROOT


def install_closure(requirements: list[str]) -> set[str]:
    """Canonical names of every distribution `pip install` of `requirements` brings in."""
    extras_of: dict[str, set[str]] = {}
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        known = extras_of.get(name)
        if known is not None and set(requirement.extras) <= known:
            continue
        extras = extras_of[name] = (known or set()) | set(requirement.extras)
        try:
            needs = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (e.g. a platform-only wheel): nothing below it to read
        for text in needs:
            need = Requirement(text)
            if need.marker is None or any(need.marker.evaluate({"extra": extra}) for extra in {"", *extras}):
                todo.append(Requirement(str(need).split(";")[0]))
    return set(extras_of)


def project_dependencies() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["dependencies"]


def test_the_plain_install_brings_what_snakemake_report_imports():
    closure = install_closure(project_dependencies())
    assert "snakemake" in closure
    # snakemake/report/__init__.py: "Python package pygments must be installed to create reports"
    assert "pygments" in closure, "snakemake --report needs pygments: depend on snakemake[reports]"


def test_the_closure_follows_extras_and_markers():
    # the walk itself: pygments comes with the extra, not without it
    assert "pygments" in install_closure(["snakemake[reports]"])
    assert "pygments" not in install_closure(["snakemake"])
