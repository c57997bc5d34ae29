"""The `maskflow` command line: every option that takes JSON gives one line and exit 2 on a bad
value (maskflow.options.json_option), through maskflow.cli.main as a user would call it."""

from __future__ import annotations

import json

import pytest

from maskflow.cli import COMMANDS, build_parser, main
from maskflow.errors import ConfigError
from maskflow.options import json_option

from helpers.evaluation import write_cache, write_checkpoint
from helpers.training import SPEC


def json_options() -> set[tuple[str, str]]:
    """(command, option) of every option whose help says it takes JSON."""
    found = set()
    for command in COMMANDS:
        parser = build_parser(command)
        sub = next(action for action in parser._actions if action.dest == "command").choices[command]
        for action in sub._actions:
            if action.help and "JSON" in action.help:
                found.update((command, option) for option in action.option_strings if option.startswith("--"))
    return found


def argv_for(command: str, option: str, value: str, tmp_path) -> list[str]:
    """A command line that reaches the parsing of `option` (files it reads first exist)."""
    out = str(tmp_path / "out")
    lines = {
        ("fetch", "--spec"): ["--dataset", "d", "--raw-dir", out, "--manifest", out],
        ("validate", "--spec"): ["--raw-dir", out, "--out", out, "--quality", out],
        ("split", "--spec"): ["--rows", out, "--out", out],
        ("cache", "--spec"): ["--raw-dir", out, "--annotations", out, "--out-dir", out],
        ("stats", "--spec"): ["--cache-dir", out, "--counts", out],
        ("train", "--spec"): ["--cache-dir", out, "--normalization", out, "--checkpoint", out]
        + ["--history", out, "--latent", out, "--resume", out, "--architecture", out],
        ("evaluate", "--ensemble"): ["--cache-dir", out, "--out-dir", out, "--metrics", out, "--models-dir", out],
        ("figure", "--spec"): ["confusion_matrix_test", "--out", out],
        ("compare", "--descriptions"): ["--dataset", "d", "--metrics", out, "--predictions", out]
        + ["--table", out, "--groups", out, "--plot", out],
        ("report", "--plan"): ["--out", out],
        ("predict", "--columns"): ["--checkpoint", out, "--annotations", out, "--images", out, "--out", out],
        ("track", "--settings"): ["store", "--out", out],
        ("track", "--files"): ["run", "--settings", '{"uri": "sqlite:///x.db", "artifacts": "a"}', "--out", out],
        ("track", "--members"): ["summary", "--dataset", "d", "--out", out]
        + ["--settings", '{"uri": "sqlite:///x.db", "artifacts": "a", "experiment": "d"}'],
    }
    if (command, option) == ("train", "--classes"):
        return [*argv_for("train", "--spec", json.dumps({**SPEC, "device": "cpu"}), tmp_path), option, value]
    if (command, option) == ("report", "--plan"):  # the workflow passes the plan as a file
        (tmp_path / "plan.json").write_text(value)
        return [command, *lines[(command, option)], option, str(tmp_path / "plan.json")]
    if (command, option) == ("predict", "--preprocess"):
        # A checkpoint that does not record its crop settings: predict reads --preprocess then.
        cache = write_cache(tmp_path / "cache")
        checkpoint = write_checkpoint(tmp_path / "model" / "checkpoint.pt", cache)
        return [command, "--checkpoint", str(checkpoint), "--annotations", out, "--images", out, "--out", out]
    return [command, *lines[(command, option)], option, value]


JSON_OPTIONS = [
    ("fetch", "--spec"),
    ("validate", "--spec"),
    ("split", "--spec"),
    ("cache", "--spec"),
    ("stats", "--spec"),
    ("train", "--spec"),
    ("train", "--classes"),
    ("evaluate", "--ensemble"),
    ("figure", "--spec"),
    ("compare", "--descriptions"),
    ("report", "--plan"),
    ("predict", "--columns"),
    ("predict", "--preprocess"),
    ("track", "--settings"),
    ("track", "--files"),
    ("track", "--members"),
]


def test_every_json_option_of_every_command_is_tested_here():
    assert json_options() == set(JSON_OPTIONS)


@pytest.mark.parametrize("command, option", JSON_OPTIONS)
@pytest.mark.parametrize("value, problem", [("{name: x", "is not valid JSON"), ('"text"', "must be a JSON")])
def test_a_bad_json_value_is_one_line_and_exit_2(command, option, value, problem, tmp_path, capsys):
    argv = argv_for(command, option, value, tmp_path)
    if (command, option) == ("predict", "--preprocess"):
        argv += [option, value]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2, err
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith(f"maskflow {command}: error: {option} ") and problem in err, err


def test_a_missing_plan_file_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["report", "--plan", str(tmp_path / "nope.json"), "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.strip()
    assert (
        stop.value.code == 2
        and err
        == f"maskflow report: error: --plan: {tmp_path / 'nope.json'}: no such file "
        + ("(give results/report_plan.json or the plan as JSON text)")
    )


def test_json_option_checks_the_top_level_kind():
    assert json_option('{"a": 1}', "--spec") == {"a": 1}
    assert json_option('["a"]', "--classes", list) == ["a"]
    with pytest.raises(ConfigError, match=r"--classes must be a JSON list, not \{"):
        json_option('{"a": 1}', "--classes", list)
    with pytest.raises(ConfigError, match="--spec is not valid JSON"):
        json_option("", "--spec")
