"""Bad annotation tables and config mistakes (issue 8's corpus, README "Reliability"): each bad row
in quality.json with its reason and line (`maskflow validate`), each bad table or config one
message naming the file or key (exit 2, `snakemake -n`), never a traceback. docs/reproducibility.md
lists the cases and outcomes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from maskflow.cli import main

from helpers import TINY_CONFIG
from helpers.bad_inputs import CLASSES, HOMEWORK, bad_masks_dataset, write_table
from helpers.cli import assert_clear_error, cli, validate_args
from helpers.snakemake import run_snakemake

# ======================================================================== annotation tables

SIZE = (64, 48)  # width, height of the one photo of a bad table

BAD_ROWS = bad_masks_dataset  # every row-level reason (tests/helpers/bad_inputs.py), one line each


@pytest.fixture(scope="module")
def bad_rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("rows")
    expected = BAD_ROWS(root / "raw")
    main(validate_args(root / "raw", {"annotations": HOMEWORK, "classes": CLASSES}, root / "v.csv", root / "q.json"))
    return expected, json.loads((root / "q.json").read_text()), pd.read_csv(root / "v.csv", dtype=str)


ROW_REASONS = [
    "label_normalized",
    "box_clipped",
    "box_outside",
    "zero_area",
    "inverted_box",
    "nan_coordinate",
    "float_coordinate",
    "unknown_label",
    "missing_photo",
    "corrupt_photo",
    "duplicate_row",
    "size_mismatch",
]


@pytest.mark.parametrize("reason", ROW_REASONS)
def test_annotation_rows_get_their_reason_and_line(bad_rows, reason):
    expected, report, kept = bad_rows
    lines = [
        r["row"] for r in report["dropped"] + report["repaired"] if r["reason"] == reason and r["file"] == "train.csv"
    ]
    assert lines == expected[reason]
    repaired = {r["reason"] for r in report["repaired"]}
    assert (reason in repaired) == all(f"train.csv:{line}" in set(kept["row_id"]) for line in lines)


def one_box_table(raw: Path, header, rows, **kwargs) -> Path:
    (raw / "images").mkdir(parents=True)
    Image.new("RGB", SIZE, (0, 128, 0)).save(raw / "images" / "a.jpg")
    write_table(raw / "boxes.csv", header, rows, **kwargs)
    return raw


TABLE = ("filename", "label", "xmin", "ymin", "xmax", "ymax")
ROW = ("a.jpg", "good", 1, 2, 30, 40)
GOOD_TWICE = [ROW, ("a.jpg", " GOOD ", 2, 2, 30, 40)]
# case -> (header, rows, write_table options, extra annotation settings, outcome: the error's
# fragments, or (rows kept, {reason: fragment of its detail}) for the quality report)
TABLES = {
    "UTF-8 BOM and CRLF": (TABLE, [ROW], {"bom": True, "newline": "\r\n"}, {}, (1, {})),
    "extra columns": ((*TABLE, "comment"), [(*ROW, "fine")], {}, {}, (1, {})),
    "missing column": (TABLE[:-1], [ROW[:-1]], {}, {}, ["boxes.csv: missing column 'ymax'"]),
    "empty file": (None, [], {}, {}, ["boxes.csv: the file is empty"]),
    "header only": (TABLE, [], {}, {}, ["boxes.csv: the file has a header", "but no rows"]),
    "label case and spaces, normalize": (TABLE, GOOD_TWICE, {}, {}, (2, {"label_normalized": "' GOOD '"})),
    "label case and spaces, strict": (
        TABLE,
        GOOD_TWICE,
        {},
        {"label_case": "strict"},
        (1, {"unknown_label": "label_case: normalize would read it as 'good'"}),
    ),
}


@pytest.mark.parametrize("case", list(TABLES))
def test_annotation_tables(tmp_path, capsys, case):
    header, rows, options, settings, outcome = TABLES[case]
    raw = one_box_table(tmp_path / "raw", header or TABLE, rows, **options)
    if header is None:
        (raw / "boxes.csv").write_bytes(b"")
    spec = {
        "annotations": {"format": "bbox_csv", "files": "boxes.csv", "images": "images", **settings},
        "classes": CLASSES,
    }
    status, err = cli(*validate_args(raw, spec, tmp_path / "v.csv", tmp_path / "q.json"), capsys=capsys)
    if isinstance(outcome, tuple):
        kept, reasons = outcome
        assert status == 0, err
        report = json.loads((tmp_path / "q.json").read_text())
        assert report["rows_kept"] == kept == len(pd.read_csv(tmp_path / "v.csv"))
        assert report["rows_read"] - report["rows_kept"] == len(report["dropped"])
        rows = report["dropped"] + report["repaired"]
        assert {r["reason"]: r["row"] for r in rows} == {reason: 3 for reason in reasons}  # the second data line
        for row in rows:
            assert reasons[row["reason"]] in row["detail"], row
    else:
        assert_clear_error(status, err, *outcome)
        assert not (tmp_path / "v.csv").exists()


# ======================================================================== config

SCHEMA = yaml.safe_load((TINY_CONFIG.parents[2] / "workflow/schemas/config.schema.yaml").read_text())
ARCH_TYPES = ", ".join(map(repr, SCHEMA["$defs"]["arch"]["properties"]["type"]["enum"]))
TOP_KEYS = ", ".join(sorted(SCHEMA["properties"]))
# case -> (edit of tests/config/tiny.yaml, the lines Snakemake shows: README's "config: invalid config:"
# then "models.mlp.arch.type: 'transformer' is not allowed; allowed values: ..." (one line per problem),
# or one "config: ..." line for a mistake the schema cannot see)
CONFIGS = {
    "unknown key": (
        lambda c: c.update(colour="blue"),
        "config: invalid config:",
        f"<top level>: Additional properties are not allowed ('colour' was unexpected); allowed keys: {TOP_KEYS}",
    ),
    "wrong type": (
        lambda c: c["models"]["cnn"]["train"].update(epochs="ten"),
        "config: invalid config:",
        "models.cnn.train.epochs: 'ten' is not of type 'integer'",
    ),
    "unknown model type": (
        lambda c: c["models"]["mlp"]["arch"].update(type="transformer"),
        "config: invalid config:",
        f"models.mlp.arch.type: 'transformer' is not allowed; allowed values: {ARCH_TYPES}",
    ),
    "base does not exist": (
        lambda c: c["models"]["cnn_aug"].update(base="nope"),
        "config: models.cnn_aug.base: unknown model 'nope'; defined models: cnn, cnn_aug, lr-lr0.01, lr-lr0.1, mlp, seq",
    ),
    "data set does not exist": (
        lambda c: c["models"]["mlp"].update(dataset="faces"),
        "config: models.mlp.dataset: unknown dataset 'faces'; defined datasets: masks",
    ),
}


def config_error(output: str) -> list[str]:
    """The 'config: ...' line Snakemake shows and, for schema errors, the first problem line under it."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("config: "))
    if lines[start] != "config: invalid config:":
        return [lines[start]]
    return [lines[start], lines[start + 1].strip()]


@pytest.mark.parametrize("case", list(CONFIGS))
def test_config_mistakes_stop_snakemake_naming_the_key(tmp_path, case):
    edit, *expected = CONFIGS[case]
    config = yaml.safe_load(TINY_CONFIG.read_text())
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    process = run_snakemake(tmp_path, "-n", config=path, check=False)
    output = process.stdout + process.stderr
    assert process.returncode != 0
    assert config_error(output) == expected, output[-2000:]
    assert "Traceback" not in output
