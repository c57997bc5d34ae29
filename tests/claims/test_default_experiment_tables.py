"""docs/default-experiment.md's result tables are what `scripts/default_experiment_tables.py`
prints from a run's comparison.csv: the same headings in the same order, and the script turns a
comparison file's rows into those tables (a file that is not one is named in one line)."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd

from helpers import ROOT

SCRIPT = ROOT / "scripts" / "default_experiment_tables.py"
DOC = ROOT / "docs" / "default-experiment.md"


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


def header_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_page_tables_have_the_scripts_columns_and_the_script_renders_a_comparison(tmp_path):
    rows = [
        {"model": "cnn_baseline-s1", "group": "cnn_baseline", "val_accuracy": 0.91234, "test_accuracy": 0.9,
         "test_balanced_accuracy": 0.6749, "test_balanced_accuracy_prior": 0.7671,
         "test_balanced_accuracy_above_prior": 0.741, "test_macro_f1": 0.7464, "train_seconds": 21.8531,
         "mcnemar_p": float("nan")},
        {"model": "mlp", "group": "mlp", "val_accuracy": 0.9, "test_accuracy": 0.91, "test_balanced_accuracy": 0.702,
         "test_balanced_accuracy_prior": 0.767, "test_balanced_accuracy_above_prior": 0.729, "test_macro_f1": 0.761,
         "train_seconds": 5.186, "mcnemar_p": 1.0},
    ]  # fmt: skip
    comparison = tmp_path / "comparison.csv"
    pd.DataFrame(rows).to_csv(comparison, index=False)
    done = run_script(comparison)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert [header_cells(line)[0] for line in lines[2:]] == ["cnn_baseline-s1", "mlp"]
    assert header_cells(lines[2])[1:3] == ["0.912", "0.9"]  # rounded to 3 decimals, in the page's column order
    assert header_cells(lines[3])[-1] == "1"

    # every table on the page has exactly these headings
    page_headers = [line for line in DOC.read_text().splitlines() if re.match(r"\|\s*model\s*\|", line)]
    assert len(page_headers) == 2
    for line in page_headers:
        assert header_cells(line) == header_cells(lines[0])


def test_a_file_that_is_no_comparison_is_named(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("model,val_accuracy\ncnn,0.9\n")
    done = run_script(other)
    assert done.returncode != 0
    assert str(other) in done.stderr and "test_accuracy" in done.stderr and "Traceback" not in done.stderr
    missing = run_script(tmp_path / "nothing.csv")
    assert missing.returncode != 0 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
