"""A dataset's or a sweep's list of files reaches its job through an argument file (`@file`,
workflow/rules/arguments.smk), so the compare, sweep and run-history jobs of a sweep of thousands
of members can start: `bash -c` takes the whole command as one argument, of at most 128 KiB."""

from __future__ import annotations

import re

import yaml

from maskflow.cli import main

from helpers import TINY_CONFIG
from helpers.snakemake import run_snakemake

LISTING_RULES = ("compare", "sweep", "track_history")


def planned_commands(tmp_path, members: int) -> dict[str, str]:
    """rule -> its shell command in `snakemake -n -p all` of the tiny config with an N-member sweep."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["sweeps"]["lr"]["grid"] = {"train.lr": [round(0.001 * (i + 1), 6) for i in range(members)]}
    path = tmp_path / f"config_{members}.yaml"
    path.write_text(yaml.safe_dump(config))
    workdir = tmp_path / f"run_{members}"
    workdir.mkdir()
    output = run_snakemake(workdir, "-n", "-p", "all", config=path).stdout
    commands = {}
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", output, flags=re.M):
        rule = re.match(r"(?:local)?rule (\w+):$", block, re.M)
        command = re.search(r"^Shell command: (.*)$", block, re.M)
        if rule and command and rule.group(1) in LISTING_RULES:
            commands[rule.group(1)] = command.group(1)
    return commands


def test_a_sweeps_listing_jobs_keep_their_command_length_whatever_the_members(tmp_path):
    small, large = planned_commands(tmp_path, 4), planned_commands(tmp_path, 1500)
    assert set(small) == set(large) == set(LISTING_RULES)
    for rule in LISTING_RULES:
        # the same command but for the sweep size, nowhere near 128 KiB (with the paths inline,
        # 1,500 members' compare command was 174,431 bytes, the sweep's 133,373, both over the
        # 131,072 a single argument may hold: "Argument list too long")
        assert len(large[rule]) < 2000 and abs(len(large[rule]) - len(small[rule])) < 10, (rule, large[rule][:300])
        assert "@results/" in large[rule]


def test_a_command_reads_an_argument_file_one_item_per_line(tmp_path, capsys):
    """argparse's @file: each line one argument, spaces kept (the sweep command's --metrics here)."""
    listing = tmp_path / "metrics list.txt"
    listing.write_text(f"{tmp_path / 'no such metrics.json'}\n")
    try:
        main(["sweep", "--sweep", "s", "--metrics", f"@{listing}", "--histories", "h.csv", "--table", "t.csv"]
             + ["--plot", "p.png", "--curves", "c.png"])  # fmt: skip
    except SystemExit as stop:
        assert stop.code == 2
    err = capsys.readouterr().err
    assert "no such metrics.json" in err and "Traceback" not in err
