"""Every example path the Snakefile, the README and docs/ show is one the workflow can build
(issue 29.2: the Snakefile's example named `cnn_baseline`, a model with three seeds, and stopped
with "not a model"). Each path is planned with `snakemake -n` on the config its line names
(`--configfile ...`), config.yaml otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import ROOT
from helpers.snakemake import run_snakemake

# A concrete file under results/ (templates such as results/{dataset}/... have braces or <>).
PATH = re.compile(r"(?<![\w{<])results/[\w.+-]+(?:/[\w.+-]+)*\.[a-z]+\b")
CONFIG = re.compile(r"--configfile\s+(\S+)")
NOT_TARGETS = {"results/snakemake_report.zip"}  # written by `snakemake --report`, not by a rule


def documents() -> list[Path]:
    return [ROOT / "Snakefile", ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def example_paths() -> dict[str, list[tuple[str, str]]]:
    """config file -> [(where, path)] for every example path in the documents."""
    found: dict[str, list[tuple[str, str]]] = {}
    for document in documents():
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            config = CONFIG.search(line)
            for path in PATH.findall(line):
                if path not in NOT_TARGETS:
                    where = f"{document.relative_to(ROOT)}:{number}"
                    found.setdefault(config.group(1) if config else "config.yaml", []).append((where, path))
    return found


def test_the_documents_show_example_paths():
    paths = [path for entries in example_paths().values() for _, path in entries]
    assert "results/masks/figures/cnn_baseline-s1/learning_curves.png" in paths  # the Snakefile's
    assert len(paths) >= 4


@pytest.mark.workflow
@pytest.mark.parametrize("config", sorted(example_paths()))
def test_every_example_path_is_planned(config, tmp_path):
    entries = example_paths()[config]
    process = run_snakemake(tmp_path, "-n", *{path for _, path in entries}, config=ROOT / config, check=False)
    assert process.returncode == 0, f"{entries}:\n{process.stderr[-3000:]}"
