"""`maskflow split`: grouped by photo, stratified, given splits kept, deterministic by seed."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from maskflow.cli import main
from maskflow.data.split import allocate, assign_splits, log_summary

from helpers.bad_inputs import bad_masks_dataset
from helpers.cli import validate_args

CLASSES = ["good", "bad", "none"]


def boxes(n_photos=200, seed=0, given=None):
    """Validated-like rows: 1-4 boxes per photo, labels about 80/17/3 %, mostly one label per photo."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_photos):
        main_label = rng.choice(CLASSES, p=[0.8, 0.17, 0.03])
        for _ in range(rng.integers(1, 5)):
            label = main_label if rng.random() < 0.9 else rng.choice(CLASSES)
            row_id = f"t.csv:{len(rows) + 2}"
            split = given(p) if given else ""
            rows.append(
                {"row_id": row_id, "photo": f"images/{p}.jpg", "array_index": "", "label": label, "given_split": split}
            )
    return pd.DataFrame(rows)


def photos_in_several_splits(rows, split):
    return int((rows.assign(split=split).groupby("photo")["split"].nunique() > 1).sum())


def test_random_split_is_grouped_by_photo_with_the_asked_fractions():
    rows = boxes()
    split = assign_splits(rows, CLASSES, val_fraction=0.1, test_fraction=0.2, seed=1)
    assert photos_in_several_splits(rows, split) == 0
    photos = rows.assign(split=split).drop_duplicates("photo")["split"].value_counts()
    assert (photos["test"], photos["val"], photos["train"]) == (40, 20, 140)  # exact: 20 % and 10 % of 200


def test_stratification_keeps_class_ratios_roughly():
    rows = boxes(n_photos=400, seed=3)
    split = assign_splits(rows, CLASSES, val_fraction=0.15, test_fraction=0.25, seed=2)
    overall = rows["label"].value_counts(normalize=True)
    for name in ("train", "val", "test"):
        ratios = rows["label"][split == name].value_counts(normalize=True)
        for label in CLASSES:
            assert abs(ratios.get(label, 0) - overall[label]) < 0.06, (name, label)
    assert rows["label"][split == "test"].eq("none").any()  # the 3 % class reaches test


def test_same_seed_same_split_whatever_the_row_order_and_another_seed_differs():
    rows = boxes()
    first = assign_splits(rows, CLASSES, 0.1, 0.2, seed=5)
    shuffled = rows.sample(frac=1, random_state=0)
    again = assign_splits(shuffled, CLASSES, 0.1, 0.2, seed=5)
    assert again.reindex(rows.index).equals(first)
    assert not assign_splits(rows, CLASSES, 0.1, 0.2, seed=6).equals(first)


def test_a_single_example_class_goes_to_train_and_absent_classes_are_warned(caplog):
    lonely = {
        "row_id": "t.csv:999",
        "photo": "images/lonely.jpg",
        "array_index": "",
        "label": "none",
        "given_split": "",
    }
    rows = boxes(n_photos=30)
    rows = pd.concat([rows[rows.label != "none"], pd.DataFrame([lonely])], ignore_index=True)
    with caplog.at_level(logging.INFO, logger="maskflow.data.split"):
        split = assign_splits(rows, CLASSES, 0.2, 0.2, seed=1)
        log_summary(rows, split, CLASSES)
    assert split[rows.photo == "images/lonely.jpg"].tolist() == ["train"]
    assert "is a single photo keep it in train: none" in caplog.text
    assert "class 'none' is absent from val and test" in caplog.text


def test_given_train_and_test_are_kept_and_val_is_carved_from_train():
    rows = boxes(n_photos=100, given=lambda p: "test" if p % 4 == 0 else "train")
    split = assign_splits(rows, CLASSES, val_fraction=0.1, test_fraction=0.2, seed=1)
    assert (split[rows.given_split == "test"] == "test").all()
    assert set(split[rows.given_split == "train"]) == {"train", "val"}
    photos = rows.assign(split=split).drop_duplicates("photo")["split"].value_counts()
    assert photos["val"] == 10  # 10 % of all 100 photos
    assert photos_in_several_splits(rows, split) == 0


def test_a_photo_given_two_splits_takes_its_first_rows_split(caplog):
    rows = boxes(n_photos=20, given=lambda p: "train")
    rows.loc[rows.photo == "images/3.jpg", "given_split"] = ["test"] + ["train"] * (
        int((rows.photo == "images/3.jpg").sum()) - 1
    )
    rows = pd.concat([rows, rows[rows.photo == "images/5.jpg"].assign(given_split="test")], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="maskflow.data.split"):
        split = assign_splits(rows, CLASSES, 0.0, 0.0, seed=1)
    assert set(split[rows.photo == "images/5.jpg"]) == {"train"}
    assert set(split[rows.photo == "images/3.jpg"]) == {"test"}
    assert photos_in_several_splits(rows, split) == 0
    assert "photos appear in several given splits" in caplog.text


def test_allocate_is_exact_proportional_and_keeps_one_of_each_back():
    assert allocate({"good": 80, "bad": 17, "none": 3}, 20) == {"good": 16, "bad": 3, "none": 1}
    assert allocate({"good": 5, "bad": 1}, 3) == {"good": 3, "bad": 0}
    assert allocate({"good": 2, "bad": 2}, 10) == {"good": 1, "bad": 1}  # never empties a class
    assert sum(allocate({"a": 7, "b": 7, "c": 7}, 10).values()) == 10


def test_validate_then_split_through_the_cli_keeps_rows_and_order(tmp_path, caplog):
    raw = tmp_path / "raw"
    bad_masks_dataset(raw)
    validated, quality, annotations = (
        tmp_path / "validated.csv",
        tmp_path / "quality.json",
        tmp_path / "annotations.csv",
    )
    spec = {
        "annotations": {"format": "bbox_csv", "files": {"train": "train.csv", "test": "test.csv"}, "images": "images"},
        "classes": CLASSES,
    }
    main(validate_args(raw, spec, validated, quality))
    split_spec = json.dumps({"split": {"val_fraction": 0.3, "seed": 1}, "classes": CLASSES})
    main(["split", "--rows", str(validated), "--spec", split_spec, "--out", str(annotations)])
    before = pd.read_csv(validated, dtype=str, keep_default_na=False)
    after = pd.read_csv(annotations, dtype=str, keep_default_na=False)
    assert after.drop(columns="split").equals(before)
    assert list(after.columns) == [*before.columns, "split"]
    # b.png is in train.csv and test.csv: one split for the photo, the first row's (train)
    assert set(after.split[after.photo == "images/b.png"]) == {"train"}
    assert photos_in_several_splits(after, after.split) == 0
    assert "photos appear in several given splits" in caplog.text


def test_split_user_mistakes_exit_2(tmp_path, capsys):
    rows = tmp_path / "validated.csv"
    rows.write_text("row_id,photo,label\nt.csv:2,a.jpg,good\n")
    args = ["split", "--rows", str(rows), "--out", str(tmp_path / "a.csv")]
    for spec, message in (
        ({"split": {"val_fraction": 0.5, "test_fraction": 0.5}, "classes": CLASSES}, "leaves nothing to train on"),
        ({"classes": CLASSES}, "missing column(s) array_index, given_split"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--spec", json.dumps(spec)])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "a.csv").exists()
