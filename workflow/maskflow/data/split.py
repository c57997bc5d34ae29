"""`maskflow split`: give every validated row a split (train/val/test), grouped by source photo.

    maskflow split --rows results/masks/data/validated.csv \
        --spec '{"split": {"val_fraction": 0.1, "test_fraction": 0.2, "seed": 1}, "classes": ["good", "bad", "none"]}' \
        --out results/masks/data/annotations.csv

The output is validated.csv, row for row in the same order, plus a `split` column:

1. Rows are grouped by source photo (photo + array_index for array formats): all boxes of one
   photo land in one split, so crops of a photo never leak from training into evaluation.
2. A photo whose rows carry a `given_split` keeps it. If its rows disagree (the same photo in
   train.csv and test.csv), the first row's split wins and a warning counts such photos.
3. Photos without a given split are split at random: `test_fraction` of them to test,
   `val_fraction` to val, the rest to train.
4. A split the data does not provide at all (train and test given, no val) is carved from
   train: round(fraction x all photos) photos.

Random choices are stratified by each photo's rarest label (the one with the fewest rows in the
whole data). Not its majority label: a photo with five `good` faces and one `none` face would
count as `good`, and the rare `none` faces would land wherever chance puts them, possibly all
outside train. Each stratum's photos are shuffled with the seed and every split takes its
proportional share, rounded so the total is exact (largest remainder). Every stratum keeps at
least one photo in train, so a class with a single photo goes to train (logged); a class
missing from a split is logged as a warning. Same input and seed, same output, whatever the
row order. This is a small allocation rather than scikit-learn's StratifiedGroupKFold
(fractions of 1/k only) or train_test_split (refuses one-member classes).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from maskflow.config import DATASET_DEFAULTS, SPLITS
from maskflow.errors import ConfigError, DataError
from maskflow.io import atomic
from maskflow.options import json_option

log = logging.getLogger(__name__)

REQUIRED = ("row_id", "photo", "array_index", "label", "given_split")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", required=True, type=Path, help="validated.csv")
    parser.add_argument("--spec", required=True, help='JSON {"split": {...}, "classes": [...]}')
    parser.add_argument("--out", required=True, type=Path, help="annotations.csv to write")


def parse_spec(text: str) -> tuple[dict, list[str]]:
    """(split settings with defaults filled, classes) from the rule's JSON."""
    spec = json_option(text, "--spec")
    if not spec.get("classes"):
        raise ConfigError('--spec must be {"split": {...}, "classes": [...]}')
    settings = {**DATASET_DEFAULTS["split"], **(spec.get("split") or {})}
    if settings["val_fraction"] + settings["test_fraction"] >= 1:
        raise ConfigError(
            f"split: val_fraction + test_fraction = {settings['val_fraction'] + settings['test_fraction']:g}"
            " leaves nothing to train on; keep their sum below 1"
        )
    return settings, [str(c) for c in spec["classes"]]


def _round(value: float) -> int:
    return int(np.floor(value + 0.5))  # half up, not Python's half-to-even


def photo_groups(rows: pd.DataFrame) -> pd.Series:
    """One key per source photo (or per image of an array file)."""
    return rows["photo"].astype(str) + "\x1f" + rows["array_index"].astype(str)


def photo_strata(rows: pd.DataFrame, groups: pd.Series, classes: list[str]) -> pd.Series:
    """group -> its rarest label (fewest rows in the whole data; ties by class order)."""
    labels = pd.DataFrame({"group": groups, "label": rows["label"]}).drop_duplicates()
    labels["rarity"] = labels["label"].map(rows["label"].value_counts())
    labels["order"] = labels["label"].map({c: i for i, c in enumerate(classes)}).fillna(len(classes))
    labels = labels.sort_values(["group", "rarity", "order", "label"])
    return labels.drop_duplicates("group").set_index("group")["label"]


def given_splits(rows: pd.DataFrame, groups: pd.Series) -> pd.Series:
    """group -> the split the data gives ('' if none); the first row's when rows disagree."""
    given = rows["given_split"].fillna("").astype(str)
    bad = ~given.isin(["", *SPLITS])
    if bad.any():
        raise DataError(f"row {rows['row_id'][bad].iloc[0]}: given_split {given[bad].iloc[0]!r} is not train/val/test")
    frame = pd.DataFrame({"group": groups, "given": given})[given != ""]
    disagree = frame.groupby("group")["given"].nunique()
    disagree = disagree[disagree > 1]
    if len(disagree):
        log.warning(
            "%d photos appear in several given splits (e.g. %s); each goes to the split of its first row",
            len(disagree), ", ".join(g.split("\x1f")[0] for g in disagree.index[:3]),
        )  # fmt: skip
    first = frame.drop_duplicates("group").set_index("group")["given"]
    return first.reindex(sorted(groups.unique()), fill_value="")


def allocate(sizes: dict[str, int], n_pick: int) -> dict[str, int]:
    """How many of each stratum to pick: proportional, exact in total, one of each kept back."""
    total = sum(sizes.values())
    room = {label: max(0, size - 1) for label, size in sizes.items()}
    n_pick = min(n_pick, sum(room.values()))
    quota = {label: n_pick * size / total for label, size in sizes.items()} if total else {}
    take = {label: min(int(quota[label]), room[label]) for label in sizes}
    while sum(take.values()) < n_pick:
        # Largest remainder first; max() keeps the first stratum (class order) on a tie.
        candidates = [label for label in sizes if take[label] < room[label]]
        take[max(candidates, key=lambda label: quota[label] - take[label])] += 1
    return take


def stratified_pick(strata: pd.Series, n_pick: int, rng: np.random.Generator, order: list[str]) -> list[str]:
    """`n_pick` groups of `strata` (group -> label), each label in proportion, shuffled by `rng`."""
    members = {label: sorted(strata.index[strata == label]) for label in order if (strata == label).any()}
    take = allocate({label: len(groups) for label, groups in members.items()}, n_pick)
    picked: list[str] = []
    for label, groups in members.items():
        shuffled = rng.permutation(len(groups))  # drawn for every stratum, so draws never shift
        picked += [groups[i] for i in shuffled[: take[label]]]
    return picked


def assign_splits(
    rows: pd.DataFrame, classes: list[str], val_fraction: float, test_fraction: float, seed: int
) -> pd.Series:
    """The split of every row (a Series aligned with `rows`)."""
    groups = photo_groups(rows)
    split = given_splits(rows, groups)
    strata = photo_strata(rows, groups, classes)
    order = [c for c in classes if c in set(strata)] + sorted(set(strata) - set(classes))
    rng = np.random.default_rng(seed)
    pool = split.index[split == ""]
    if len(pool):
        test = stratified_pick(strata[pool], _round(test_fraction * len(pool)), rng, order)
        rest = pool.difference(test)
        val = stratified_pick(strata[rest], _round(val_fraction * len(pool)), rng, order)
        split.loc[test] = "test"
        split.loc[val] = "val"
        split.loc[rest.difference(val)] = "train"
    for name, fraction in (("test", test_fraction), ("val", val_fraction)):
        if fraction > 0 and not (split == name).any():
            train = split.index[split == "train"]
            carved = stratified_pick(strata[train], _round(fraction * len(split)), rng, order)
            split.loc[carved] = name
            log.info("the data gives no %s split: %d of %d train photos carved into it", name, len(carved), len(train))
    singles = [label for label in order if (strata == label).sum() == 1]
    if singles:
        log.info("classes whose rarest-label stratum is a single photo keep it in train: %s", ", ".join(singles))
    return groups.map(split)


def log_summary(rows: pd.DataFrame, split: pd.Series, classes: list[str]) -> None:
    table = pd.crosstab(rows["label"], split.rename("split")).reindex(index=classes, columns=list(SPLITS), fill_value=0)
    photos = photo_groups(rows).groupby(split).nunique().reindex(list(SPLITS), fill_value=0)
    log.info("photos per split: %s", ", ".join(f"{s} {n}" for s, n in photos.items()))
    log.info("boxes per split and class:\n%s", table.to_string())
    for label, counts in table.iterrows():
        if counts.sum() == 0:
            log.warning("class %r has no rows at all", label)
            continue
        missing = [s for s in SPLITS if counts[s] == 0]
        if missing:
            log.warning("class %r is absent from %s (%d rows in all)", label, " and ".join(missing), counts.sum())


def read_rows(path: Path) -> pd.DataFrame:
    """validated.csv exactly as written (every cell text, empty cells ''), so it passes through unchanged."""
    try:
        rows = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    missing = [c for c in REQUIRED if c not in rows.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the file has: {', '.join(rows.columns)}")
    if rows.empty:
        raise DataError(f"{path}: no rows to split")
    return rows


def run(args: argparse.Namespace) -> None:
    settings, classes = parse_spec(args.spec)
    rows = read_rows(args.rows)
    split = assign_splits(rows, classes, settings["val_fraction"], settings["test_fraction"], settings["seed"])
    log_summary(rows, split, classes)
    atomic.write_csv(args.out, rows.assign(split=split))
