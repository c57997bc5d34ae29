"""The README's facts about the tiny config and the results folder hold (issue 29.11): the job
count it quotes is the count a dry run from nothing plans, and every folder a tiny run makes under
results/ (logs/, benchmarks/, ...) is named in the README's layout."""

from __future__ import annotations

import re

import pytest

from helpers import ROOT
from helpers.snakemake import job_stats, run_snakemake

README = (ROOT / "README.md").read_text(encoding="utf-8")
# The README and the pages it points to (the performance page quotes the tiny run too).
DOCS = README + "".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md")))


@pytest.mark.workflow
def test_the_quoted_tiny_job_count_is_what_snakemake_plans(tmp_path):
    quoted = {
        int(n)
        for n in re.findall(r"tiny CI experiment \((\d+) jobs\)|tiny config, (\d+) jobs built", DOCS)
        for n in n
        if n
    }
    assert quoted, "the README quotes the tiny config's job count"
    planned = job_stats(run_snakemake(tmp_path, "-n", "all").stdout)["total"]
    assert quoted == {planned}


def layout_block() -> str:
    return README.split("## Layout", 1)[1].split("```", 2)[1]


@pytest.mark.workflow
def test_every_results_folder_of_a_tiny_run_is_in_the_layout(tiny_run):
    layout = layout_block()
    results = tiny_run / "results"
    missing = [p.name for p in results.iterdir() if p.is_dir() and p.name != "masks" and f"{p.name}/" not in layout]
    missing += [f"masks/{p.name}" for p in (results / "masks").iterdir() if p.is_dir() and f"{p.name}/" not in layout]
    assert not missing, missing
    assert "results/" in layout and "{dataset}/" in layout
