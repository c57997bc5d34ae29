"""One small test config per data kind (tests/config/*.yaml, as the Snakemake workflow catalog
keeps them), each run as a user would: the stand-in data written at the config's relative
`source.path` under a temporary working folder, then the whole DAG (`snakemake --cores 2 all`).
Checked is what a user looks at: the cache's shapes and class counts match the stand-in's files,
every model's metrics.json holds accuracies in [0, 1], the report is written.

    .venv/bin/pytest -q tests/workflow/test_data_kinds.py                     # every kind (minutes)
    .venv/bin/pytest -q tests/workflow/test_data_kinds.py -k npz              # one
    .venv/bin/pytest -q tests/workflow/test_data_kinds.py -m "not workflow"   # shape and schema only

tests/config/tiny.yaml (photos + bbox CSV) is run by the other workflow tests; it is checked
here for its shape and schema alongside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from maskflow.config import load_and_check

from helpers import ROOT, TINY_CONFIG
from helpers.snakemake import run_snakemake
from helpers.standins import (
    FACE_MASK_LABELS,
    FER_CLASSES,
    write_face_mask_detection,
    write_fer2013,
    write_image_folder,
    write_mnist,
)

CONFIG_DIR = ROOT / "tests" / "config"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SPLITS = ("train", "val", "test")


# Each writer puts a stand-in where its config looks (relative to the working folder) and
# returns the class counts read straight from the written files, independently of maskflow:
# a frame of (split, label, count); split is "" where the data gives none (maskflow splits).
def _voc(root: Path) -> pd.DataFrame:
    folder = write_face_mask_detection(root / "data" / "face-mask-detection", photos=10)
    names = [
        n
        for p in sorted((folder / "annotations").glob("*.xml"))
        for n in re.findall(r"<name>(.*?)</name>", p.read_text())
    ]
    to_class = {kaggle: ours for ours, kaggle in FACE_MASK_LABELS.items()}
    return _counts(pd.DataFrame({"split": "", "label": [to_class[n] for n in names]}))


def _pixel_csv(root: Path) -> pd.DataFrame:
    table = pd.read_csv(write_fer2013(root / "data" / "fer2013.csv", rows=120))
    usage = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
    return _counts(
        pd.DataFrame({"split": table["Usage"].map(usage), "label": table["emotion"].map(FER_CLASSES.__getitem__)})
    )


def _npz(root: Path) -> pd.DataFrame:
    with np.load(write_mnist(root / "data" / "mnist.npz", train=200, test=50)) as arrays:
        # the config holds out part of x_train for validation: train and val count together
        frames = [
            pd.DataFrame({"split": split, "label": arrays[f"y_{key}"].astype(str)})
            for split, key in (("", "train"), ("test", "test"))
        ]
    return _counts(pd.concat(frames))


def _image_folder(root: Path) -> pd.DataFrame:
    folder = write_image_folder(root / "data" / "photos", per_class=8, test_per_class=3)
    photos = [p.relative_to(folder).parts for p in folder.rglob("*.*")]
    return _counts(
        pd.DataFrame({"split": [s if s == "test" else "" for s, _, _ in photos], "label": [c for _, c, _ in photos]})
    )


def _counts(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.groupby(["split", "label"]).size().rename("count").reset_index()


@dataclass(frozen=True)
class Kind:
    config: Path
    dataset: str
    write: Callable[[Path], pd.DataFrame]
    shape: tuple[int, int, int]  # one cached crop: size x size x channels


KINDS = {
    "voc_xml": Kind(CONFIG_DIR / "voc_xml.yaml", "face_mask_detection", _voc, (16, 16, 3)),
    "pixel_csv": Kind(CONFIG_DIR / "pixel_csv.yaml", "fer2013", _pixel_csv, (24, 24, 1)),
    "npz": Kind(CONFIG_DIR / "npz.yaml", "mnist", _npz, (28, 28, 1)),
    "image_folder": Kind(CONFIG_DIR / "image_folder.yaml", "digit_photos", _image_folder, (16, 16, 1)),
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# ------------------------------------------------------------------ shape, schema, dry run


@pytest.mark.parametrize("path", [TINY_CONFIG, *(kind.config for kind in KINDS.values())], ids=lambda p: p.stem)
def test_each_test_config_has_config_yamls_shape_and_passes_the_schema(path):
    config, default = load(path), load(ROOT / "config.yaml")
    resolved = load_and_check(config, SCHEMA)  # the schema, then every model resolved: ConfigError naming the key
    assert set(config) <= set(default), f"top-level keys config.yaml lacks: {set(config) - set(default)}"
    assert {"seed", "device", "threads", "datasets", "models"} <= set(config)
    assert resolved["device"] == "cpu"  # CI has no GPU: the same run everywhere


@pytest.mark.workflow
@pytest.mark.parametrize("kind", KINDS)
def test_each_data_kind_config_plans_its_whole_dag(tmp_path, kind):
    KINDS[kind].write(tmp_path)
    process = run_snakemake(tmp_path, "-n", "all", config=KINDS[kind].config)
    planned = process.stdout + process.stderr
    for model in load(KINDS[kind].config)["models"]:
        assert f"results/{KINDS[kind].dataset}/models/{model}/metrics.json" in planned
    assert "results/report.html" in planned


# ------------------------------------------------------------------------- whole DAG per kind


@pytest.fixture(scope="module", params=list(KINDS))
def ran(request, tmp_path_factory):
    """(kind, working folder, counts from the stand-in's files) after `snakemake all`."""
    kind = KINDS[request.param]
    workdir = tmp_path_factory.mktemp(request.param)
    expected = kind.write(workdir)
    run_snakemake(workdir, "all", config=kind.config)
    return kind, workdir, expected


@pytest.mark.workflow
def test_cache_shapes_and_class_counts_match_the_standin(ran):
    kind, workdir, expected = ran
    results = workdir / "results" / kind.dataset
    classes = load(kind.config)["datasets"][kind.dataset]["classes"]
    counts = pd.read_csv(results / "stats" / "class_counts.csv", dtype={"label": str})

    # per split where the data gives the split, per class over the splits maskflow made
    given = expected[expected["split"] != ""]
    made = expected[expected["split"] == ""].groupby("label")["count"].sum()
    found = counts.set_index(["split", "label"])["count"]
    for split, label, count in given.itertuples(index=False):
        assert found[split, label] == count, f"{split}/{label}"
    ours = counts[~counts["split"].isin(set(given["split"]))].groupby("label")["count"].sum()
    assert ours[ours > 0].to_dict() == made.to_dict()

    for split in SPLITS:
        x = np.load(results / "cache" / f"{split}_x.npy")
        y = np.load(results / "cache" / f"{split}_y.npy")
        per_class = counts[counts["split"] == split].set_index("label")["count"].reindex(classes)
        assert x.dtype == np.uint8 and x.shape == (len(y), *kind.shape), f"{split}: {x.shape}"
        assert np.bincount(y, minlength=len(classes)).tolist() == per_class.tolist(), split


@pytest.mark.workflow
def test_every_model_is_scored_and_compared(ran):
    kind, workdir, _ = ran
    results = workdir / "results" / kind.dataset
    models = load(kind.config)["models"]
    for model in models:
        metrics = json.loads((results / "models" / model / "metrics.json").read_text())
        assert metrics["model"] == model and metrics["dataset"] == kind.dataset
        for split in SPLITS:
            scores = metrics["splits"][split]
            assert scores["n"] > 0, f"{model} {split}"
            for name in ("accuracy", "balanced_accuracy", "macro_f1"):
                assert 0 <= scores[name] <= 1, f"{model} {split} {name} = {scores[name]}"
    assert set(pd.read_csv(results / "comparison.csv")["model"]) == set(models)


@pytest.mark.workflow
def test_the_report_is_written(ran):
    kind, workdir, _ = ran
    report = workdir / "results" / "report.html"
    assert report.stat().st_size > 10_000
    text = report.read_text(encoding="utf-8")
    assert kind.dataset in text and all(model in text for model in load(kind.config)["models"])
