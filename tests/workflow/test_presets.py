"""The presets in configs/ (FER2013, Medical Masks, Face Mask Detection, MNIST), run on stand-ins
of their real data (tests/helpers/standins.py: the real names, columns, labels, layouts and file
types), with the data's place given by a second config file layered on top, as a user does:

    snakemake all --configfile configs/fer2013.yaml my-paths.yaml

Every preset, whole, must plan its DAG on the stand-in (`snakemake -n all`: every model,
sweep and ensemble resolves). Then each runs its whole DAG for real, scaled down: Snakemake
merges config files key by key, so a layered file can shrink models but never drop one, and
all of a preset's ~100 jobs would take minutes here. So the run takes the preset with its
`datasets:` verbatim and a few of its models, one of each kind it uses (arch type, replicates,
latent snapshots, imbalance method, sweep, ensemble), each a few channels wide for two epochs
(`tiny_preset`), and layers my-paths.yaml on it. Also: the missing-file message with its hint,
the MNIST url source (served over HTTP with its sha256) and its local copy, npz keys per split.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from maskflow.annotations import npz
from maskflow.errors import ConfigError, DataError, DownloadError
from maskflow.sources.fetch import fetch

from helpers import ROOT
from helpers.httpserver import HTTPTestServer
from helpers.standins import (
    FACE_MASK_LABELS,
    FER_CLASSES,
    LONG_NAME,
    NON_ASCII_NAME,
    write_face_mask_detection,
    write_fer2013,
    write_medical_masks,
    write_mnist,
)

CONFIGS = ROOT / "configs"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
PRESETS = ("fer2013.yaml", "medical-masks.yaml", "face-mask-detection.yaml", "mnist.yaml")

# The models a scaled-down run keeps: one of each kind the preset uses. Models of the FER
# networks' engineer (`sequential`) are kept when the preset has them.
KEEP = {
    "fer2013.yaml": ["fer_cnn", "fer_cnn_augment_es", "fer_cnn_undersample", "fer_leaky48", "fer_vgg64"],
    "medical-masks.yaml": ["cnn_baseline", "cnn_weighted_sampler", "mlp"],
    "face-mask-detection.yaml": ["cnn_baseline", "mlp"],
    "mnist.yaml": ["dnn", "mnist_mlp", "mnist_cnn"],
}
KEEP_SWEEPS = {"mnist.yaml": ["dnn_layers", "dnn_init"]}


def run_preset(workdir: Path, configs: list[Path | str], *args: str, check: bool = True):
    """Snakemake on `configs` (layered in order) in `workdir`, where results land."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", *map(str, configs), "--cores", "2", "--show-failed-logs", *args]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    process = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    if check and process.returncode != 0:
        failed = process.stderr.find("Error in rule")
        raise AssertionError(
            f"snakemake failed ({process.returncode}):\n{process.stdout[-3000:]}\n"
            + (process.stderr[failed : failed + 6000] if failed >= 0 else process.stderr[-6000:])
        )
    return process


def write_yaml(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False))
    return path


def my_paths(workdir: Path, sources: dict) -> Path:
    """The user's second config file: dataset -> source keys to change (e.g. `path`)."""
    return write_yaml(workdir / "my-paths.yaml", {"datasets": {name: {"source": s} for name, s in sources.items()}})


def _tiny_arch(arch: dict) -> dict:
    """The same kind of network, a few channels or units wide: blocks keep kernel, stride, pool."""
    tiny = dict(arch)
    if "blocks" in arch:
        tiny["blocks"] = [{**block, "channels": 4} for block in arch["blocks"][:2]]
    if "head" in arch:
        tiny["head"] = [8]
    if "hidden" in arch:
        tiny["hidden"] = [8] * len(arch["hidden"])
    return tiny


def _tiny_value(value):
    return [min(v, 8) for v in value] if isinstance(value, list) else value


def tiny_preset(name: str) -> dict:
    """configs/`name` with its datasets as they are and KEEP's models, tiny, for two epochs."""
    preset = load_preset(name)
    keep = [model for model in KEEP[name] if model in preset["models"]]
    models = {}
    for model in keep:
        entry = copy.deepcopy(preset["models"][model])
        if entry.get("base") not in (None, *keep):
            raise AssertionError(f"{name}: keep {model}'s base {entry['base']} too")
        if "arch" in entry:
            entry["arch"] = _tiny_arch(entry["arch"])
        train = entry.setdefault("train", {})
        train.update(epochs=2, batch_size=16)
        # one latent figure (t-SNE is slow): on the model that asks for it, not on its variants
        train["latent_epochs"] = [1, 2] if train.get("latent_epochs") else []
        if "seeds" in entry:
            entry["seeds"] = entry["seeds"][:1]
        entry["figures"] = {"misclassified": 4}
        models[model] = entry
    sweeps = {
        sweep: {**spec, "grid": {key: [_tiny_value(values[0])] for key, values in spec["grid"].items()}}
        for sweep, spec in (preset.get("sweeps") or {}).items()
        if sweep in KEEP_SWEEPS.get(name, [])
    }
    # each ensemble keeps its kept members, or stands on the first two kept models
    ensembles = {}
    for ensemble, spec in (preset.get("ensembles") or {}).items():
        members = [m for m in spec["members"] if m in keep]
        ensembles[ensemble] = {**spec, "members": members if len(members) > 1 else keep[:2]}
    return {
        **{key: preset[key] for key in preset if key not in ("models", "sweeps", "ensembles")},
        "device": "cpu",
        "threads": {"cache": 1, "train": 1, "evaluate": 1},
        "models": models,
        **({"sweeps": sweeps} if sweeps else {}),
        **({"ensembles": ensembles} if ensembles else {}),
    }


def load_preset(name: str) -> dict:
    return yaml.safe_load((CONFIGS / name).read_text())


def run_tiny(workdir: Path, name: str, sources: dict) -> dict:
    """The scaled-down whole DAG of preset `name` with `sources` layered on top; the config run."""
    config = tiny_preset(name)
    configs = [write_yaml(workdir / f"tiny-{name}", config)]
    if sources:
        configs.append(my_paths(workdir, sources))
    run_preset(workdir, configs, "all")
    return config


def assert_whole_dag_ran(workdir: Path, config: dict, dataset: str) -> pd.DataFrame:
    """The report exists and every model, sweep point and ensemble of `config` was compared."""
    assert (workdir / "results" / "report.html").stat().st_size > 10_000
    table = pd.read_csv(workdir / "results" / dataset / "comparison.csv")
    expected = {m for m, e in config["models"].items() if e.get("dataset", dataset) == dataset}
    expected |= set(config.get("ensembles") or {})
    seen = {name.rsplit("-s", 1)[0] if name.rsplit("-s", 1)[-1].isdigit() else name for name in table["model"]}
    assert expected <= seen, f"not compared: {expected - seen}"
    for sweep in config.get("sweeps") or {}:
        assert (workdir / "results" / dataset / "sweeps" / f"{sweep}.csv").is_file()
        assert any(name.startswith(f"{sweep}-") for name in table["model"])
    return table


# ---------------------------------------------------------------- every preset plans its DAG


STANDINS = {
    "fer2013.yaml": lambda root: write_fer2013(root / "data" / "fer2013.csv", rows=40),
    "medical-masks.yaml": lambda root: write_medical_masks(root / "data" / "medical-masks", photos=4),
    "face-mask-detection.yaml": lambda root: write_face_mask_detection(root / "data" / "face-mask-detection", photos=3),
    "mnist.yaml": lambda root: write_mnist(root / "data" / "mnist.npz", train=20, test=10),
}


@pytest.mark.workflow
@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_plans_its_whole_dag_on_a_standin_at_its_default_place(tmp_path, name):
    STANDINS[name](tmp_path)
    preset = load_preset(name)

    process = run_preset(tmp_path, [CONFIGS / name], "-n", "all")

    planned = process.stdout + process.stderr
    # whole names, so that `fer_cnn_augment_es` cannot stand in for `fer_cnn`, nor a sweep's
    # `dnn_layers-...` members for `dnn`; a model with seeds is trained as `{model}-s{seed}`
    trained = set(re.findall(r"results/[^/\s]+/models/([^/\s]+)/checkpoint\.pt", planned))
    evaluated = set(re.findall(r"results/[^/\s]+/models/([^/\s]+)/metrics\.json", planned))
    for model in preset["models"]:
        assert model in trained or any(re.fullmatch(rf"{re.escape(model)}-s\d+", t) for t in trained), (
            f"{model} is not trained (trained: {sorted(trained)})"
        )
    for sweep in preset.get("sweeps") or {}:
        assert f"sweeps/{sweep}.csv" in planned
        assert any(name.startswith(f"{sweep}-") for name in trained), f"no member of sweep {sweep} is trained"
    for ensemble in preset.get("ensembles") or {}:
        assert ensemble in evaluated, f"{ensemble} is not evaluated"
    assert "results/report.html" in planned


# ------------------------------------------------------------------------- whole DAG, per preset


@pytest.mark.workflow
def test_fer2013_preset_runs_on_a_standin_given_elsewhere(tmp_path):
    csv = write_fer2013(tmp_path / "elsewhere" / "fer2013.csv", rows=100)
    datasets = load_preset("fer2013.yaml")["datasets"]

    config = run_tiny(tmp_path, "fer2013.yaml", {name: {"path": str(csv)} for name in datasets})

    counts = pd.read_csv(tmp_path / "results" / "fer2013" / "stats" / "class_counts.csv")
    usage = pd.read_csv(csv)["Usage"].map({"Training": "train", "PublicTest": "val", "PrivateTest": "test"})
    assert counts.groupby("split")["count"].sum().to_dict() == usage.value_counts().to_dict()
    assert set(counts["label"]) == set(FER_CLASSES)
    x = np.load(tmp_path / "results" / "fer2013" / "cache" / "train_x.npy")
    assert x.shape[1:] == (48, 48, 1) and x.dtype == np.uint8
    assert_whole_dag_ran(tmp_path, config, "fer2013")


@pytest.mark.workflow
def test_medical_masks_preset_reads_the_homework_folder_from_its_default_place(tmp_path):
    write_medical_masks(tmp_path / "data" / "medical-masks", photos=10)

    config = run_tiny(tmp_path, "medical-masks.yaml", {})

    quality = json.loads((tmp_path / "results" / "medical_masks" / "data" / "quality.json").read_text())
    assert quality["rows_kept"] == quality["rows_read"]  # long and non-ASCII names opened
    photos = set(pd.read_csv(tmp_path / "results" / "medical_masks" / "data" / "annotations.csv")["photo"])
    assert {f"images/{LONG_NAME}", f"images/{NON_ASCII_NAME}"} <= photos
    assert_whole_dag_ran(tmp_path, config, "medical_masks")


@pytest.mark.workflow
def test_face_mask_detection_preset_renames_kaggle_labels_and_splits_by_photo(tmp_path):
    folder = write_face_mask_detection(tmp_path / "kaggle", photos=12)

    config = run_tiny(tmp_path, "face-mask-detection.yaml", {"face_mask_detection": {"path": str(folder)}})

    rows = pd.read_csv(tmp_path / "results" / "face_mask_detection" / "data" / "annotations.csv")
    written = sum(p.read_text().count("<object>") for p in (folder / "annotations").glob("*.xml"))
    assert len(rows) == written and set(rows["label"]) <= set(FACE_MASK_LABELS)  # good / bad / none
    assert (rows.groupby("photo")["split"].nunique() == 1).all()  # every photo in one split
    assert set(rows["split"]) == {"train", "val", "test"}
    assert_whole_dag_ran(tmp_path, config, "face_mask_detection")


@pytest.mark.workflow
def test_mnist_preset_downloads_over_http_with_the_checksum(tmp_path):
    standin = write_mnist(tmp_path / "served" / "mnist.npz", train=300, test=100)
    digest = hashlib.sha256(standin.read_bytes()).hexdigest()
    with HTTPTestServer() as server:
        url = server.add("/tf-keras-datasets/mnist.npz", standin.read_bytes())
        source = {"url": url, "sha256": digest, "path": str(tmp_path / "no-local-copy.npz")}
        config = run_tiny(tmp_path, "mnist.yaml", {"mnist": source})
        assert [r.path for r in server.requests] == ["/tf-keras-datasets/mnist.npz"]

    counts = pd.read_csv(tmp_path / "results" / "mnist" / "stats" / "class_counts.csv")
    totals = counts.groupby("split")["count"].sum()
    assert totals["test"] == 100 and totals["train"] + totals["val"] == 300
    x = np.load(tmp_path / "results" / "mnist" / "cache" / "test_x.npy")
    index = pd.read_csv(tmp_path / "results" / "mnist" / "cache" / "test_index.csv")
    assert (index["photo"] == "mnist.npz[x_test]").all()
    rows = index["row_id"].str.rsplit(":", n=1).str[1].astype(int).to_numpy()  # 1-based, in x_test
    with np.load(standin) as arrays:
        np.testing.assert_array_equal(x[..., 0], arrays["x_test"][rows - 1])
    assert_whole_dag_ran(tmp_path, config, "mnist")


# ------------------------------------------------------------------- where the data comes from


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("preset", "path", "hint"),
    [
        ("fer2013.yaml", "data/fer2013.csv", "https://www.kaggle.com/c/challenges-in-representation-learning"),
        ("medical-masks.yaml", "data/medical-masks", "train.csv, test.csv and images/"),
        ("face-mask-detection.yaml", "data/face-mask-detection", "https://www.kaggle.com/datasets/andrewmvd/"),
    ],
)
def test_missing_data_stops_the_dry_run_with_one_line_naming_path_and_hint(tmp_path, preset, path, hint):
    process = run_preset(tmp_path, [CONFIGS / preset], "-n", "all", check=False)
    assert process.returncode != 0
    output = process.stdout + process.stderr
    lines = [line for line in output.splitlines() if f"source path '{path}' not found" in line]
    assert len(lines) == 1, output[-3000:]
    assert hint in lines[0] and str(tmp_path / path) in lines[0] and "my-paths.yaml" in lines[0]
    assert "Traceback" not in output


def test_missing_path_in_the_fetch_job_ends_with_the_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = load_preset("fer2013.yaml")["datasets"]["fer2013"]["source"]
    with pytest.raises(DataError) as error:
        fetch("fer2013", source, tmp_path / "raw", tmp_path / "manifest.json")
    message = str(error.value)
    assert "\n" not in message and "'data/fer2013.csv' not found" in message
    assert message.endswith("--configfile configs/fer2013.yaml my-paths.yaml")


def test_a_failed_download_ends_with_the_hint(tmp_path):
    with HTTPTestServer() as server:
        source = {"kind": "url", "url": server.url("/gone.npz"), "retries": 0, "hint": "Put  it\nat data/x.npz"}
        with pytest.raises(DownloadError, match=r"gone\.npz: HTTP 404 .*\. Put it at data/x\.npz$"):
            fetch("x", source, tmp_path / "raw", tmp_path / "manifest.json")


def test_mnist_local_copy_is_used_instead_of_downloading_and_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    standin = write_mnist(tmp_path / "data" / "mnist.npz", train=20, test=10)
    source = load_preset("mnist.yaml")["datasets"]["mnist"]["source"]
    source["url"] = "http://127.0.0.1:9/unreachable/mnist.npz"  # any download attempt would fail

    with pytest.raises(DataError, match=rf"data/mnist\.npz: the local copy .* expected {MNIST_SHA256}"):
        fetch("mnist", source, tmp_path / "raw", tmp_path / "manifest.json")

    source["sha256"] = hashlib.sha256(standin.read_bytes()).hexdigest()
    content = fetch("mnist", source, tmp_path / "raw", tmp_path / "manifest.json")
    assert [entry["path"] for entry in content["files"]] == ["mnist.npz"]
    assert (tmp_path / "raw" / "mnist.npz").read_bytes() == standin.read_bytes()


# ------------------------------------------------------------------------- npz keys per split


MNIST_KEYS = {"train": {"image": "x_train", "label": "y_train"}, "test": {"image": "x_test", "label": "y_test"}}


def test_one_npz_with_arrays_per_split_reads_each_split_as_its_own_images(tmp_path):
    write_mnist(tmp_path / "mnist.npz", train=30, test=20)
    spec = {"format": "npz", "files": {"train": "mnist.npz", "test": "mnist.npz"}, "keys": MNIST_KEYS}
    classes = [str(d) for d in range(10)]

    result = npz.read(tmp_path, spec, classes)

    rows = result.rows
    assert result.files == ["mnist.npz[x_train]", "mnist.npz[x_test]"] and result.rows_read == 50
    assert rows.groupby("given_split").size().to_dict() == {"train": 30, "test": 20}
    # index 0 of x_train and index 0 of x_test are different images everywhere downstream
    assert rows.loc[rows.array_index == 0, "photo"].tolist() == ["mnist.npz[x_train]", "mnist.npz[x_test]"]
    with np.load(tmp_path / "mnist.npz") as arrays:
        images = npz.load_arrays(tmp_path, spec, rows)
        np.testing.assert_array_equal(images[:30, ..., 0], arrays["x_train"])
        np.testing.assert_array_equal(images[30:, ..., 0], arrays["x_test"])
        assert rows["label"].tolist() == [str(v) for v in [*arrays["y_train"], *arrays["y_test"]]]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"train": MNIST_KEYS["train"]}, r"annotations\.keys\.test: missing"),
        ({**MNIST_KEYS, "image": "x"}, r"annotations\.keys: .* not both \(found image"),
        ({**MNIST_KEYS, "test": {"image": "x_val", "label": "y_test"}}, r"no image array 'x_val'.*per split"),
    ],
)
def test_per_split_keys_that_do_not_fit_say_what_to_write(tmp_path, keys, message):
    write_mnist(tmp_path / "mnist.npz", train=10, test=10)
    spec = {"format": "npz", "files": {"train": "mnist.npz", "test": "mnist.npz"}, "keys": keys}
    with pytest.raises((ConfigError, DataError), match=message):
        npz.read(tmp_path, spec, [str(d) for d in range(10)])
