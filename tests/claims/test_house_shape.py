"""The workflow's shape a newcomer relies on (issue 25): the Snakefile includes one rule file per
stage, common.smk (config loading and the params helpers every stage shares) stays at most 200
lines, and every rule's shell runs one `maskflow` command.

    .venv/bin/pytest -q tests/claims/test_house_shape.py
"""

from __future__ import annotations

import re

from helpers import ROOT

RULES = ROOT / "workflow" / "rules"


def test_common_smk_stays_at_most_200_lines():
    lines = (RULES / "common.smk").read_text().count("\n")
    assert lines <= 200, f"common.smk has {lines} lines: give the new helpers a file of their own"


def test_the_snakefile_includes_every_rule_file():
    snakefile = (ROOT / "Snakefile").read_text()
    included = set(re.findall(r'^include: "workflow/rules/(\w+\.smk)"', snakefile, re.M))
    assert included == {path.name for path in RULES.glob("*.smk")}


def test_every_rule_runs_one_maskflow_command():
    for path in RULES.glob("*.smk"):
        text = path.read_text()
        found = re.findall(r"^rule (\w+):(?:(?!^rule ).)*?^    shell:\n((?:        [^\n]*\n)+)", text, re.M | re.S)
        # every rule but `all` (which only names targets) has a shell, and each was read; a `run:`
        # block (report_plan writes Snakemake's own data) is a few lines calling the package
        runs = re.findall(r"^    run:\n((?:        [^\n]*\n|\n)+)", text, re.M)
        for body in runs:
            assert "from maskflow" in body and body.strip().count("\n") < 5, f"{path.name}: a run: block\n{body}"
        assert len(found) + len(runs) == len(re.findall(r"^rule (?!all:)\w+:", text, re.M)), path.name
        for rule, shell in found:
            commands = re.findall(r"(?:python -m maskflow|maskflow) [a-z_]+", shell)
            assert len(commands) == 1, f"{path.name}: rule {rule} runs {commands or 'no maskflow command'}"
