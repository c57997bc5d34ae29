"""The result tables of docs/default-experiment.md, from a run's comparison files.

    .venv/bin/python scripts/default_experiment_tables.py                  # results/{masks,digits}
    .venv/bin/python scripts/default_experiment_tables.py results/masks/comparison.csv

After `make run`, paste each printed table into docs/default-experiment.md in place of the old
one and check the page's prose against it (the numbers change whenever training does: a new
torch, another processor, a change of maskflow's numerics).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

# comparison.csv column -> the page's heading, in the page's order.
COLUMNS = {
    "model": "model",
    "val_accuracy": "val acc",
    "test_accuracy": "test acc",
    "test_balanced_accuracy": "test bal. acc",
    "test_balanced_accuracy_prior": "test bal. acc (prior-corrected)",
    "test_balanced_accuracy_above_prior": "test bal. acc (above prior)",
    "test_macro_f1": "test macro F1",
    "train_seconds": "train s",
    "mcnemar_p": "McNemar p vs baseline",
}
DEFAULT_FILES = ("results/masks/comparison.csv", "results/digits/comparison.csv")


def markdown_table(comparison_csv: Path) -> str:
    """One comparison file as the page's table: its rows in order, numbers to 3 decimals."""
    table = pd.read_csv(comparison_csv)
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise SystemExit(f"{comparison_csv}: no column {', '.join(missing)} (is it a maskflow comparison.csv?)")
    return table[list(COLUMNS)].rename(columns=COLUMNS).round(3).to_markdown(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=[Path(f) for f in DEFAULT_FILES])
    args = parser.parse_args(argv)
    for path in args.files:
        if not path.is_file():
            raise SystemExit(f"{path}: no such file (run `make run` first)")
        print(f"{path}:\n\n{markdown_table(path)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
