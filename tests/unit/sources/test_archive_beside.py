"""A `path` source also finds its data still zipped beside the named path (issue 29.5): the
README says the Medical Masks folder may sit at data/medical-masks/ "or its .zip", and
data/medical-masks.zip was not found. An archive of the folder itself (a lone top folder, as
"compress this folder" makes it) reads like an archive of its contents."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from maskflow.sources.local import existing_path, missing_source, place

from helpers import ROOT
from helpers.snakemake import run_snakemake
from helpers.standins import write_medical_masks


def zip_folder(folder: Path, archive: Path, top: str | None) -> Path:
    """`folder` zipped, its files under `top/` (a zip of the folder) or at the top (of its contents)."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                zf.write(path, f"{top}/{name}" if top else name)
    return archive


def test_the_archive_beside_a_missing_path_is_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = {"kind": "path", "path": "data/medical-masks", "hint": "put it there"}
    assert "not found" in missing_source("medical_masks", source)
    Path("data").mkdir()
    Path("data/medical-masks.zip").write_bytes(b"")
    assert existing_path("data/medical-masks") == Path("data/medical-masks.zip")
    assert missing_source("medical_masks", source) is None
    Path("data/medical-masks").mkdir()  # the folder itself, when there, comes first
    assert existing_path("data/medical-masks") == Path("data/medical-masks")


@pytest.mark.parametrize("top", ["medical-masks", None, "images"])
def test_an_archive_of_the_folder_or_of_its_contents_unpacks_alike(tmp_path, top):
    folder = tmp_path / "homework"
    (folder / "images").mkdir(parents=True)
    (folder / "train.csv").write_text("filename\n")
    (folder / "images" / "a.jpg").write_bytes(b"jpeg")
    raw = tmp_path / "raw"
    place(zip_folder(folder, tmp_path / "medical-masks.zip", top), raw)
    assert sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*")) == ["images", "images/a.jpg", "train.csv"]


@pytest.mark.workflow
def test_the_medical_masks_preset_reads_the_zipped_folder(tmp_path):
    folder = write_medical_masks(tmp_path / "unzipped" / "medical-masks", photos=6)
    (tmp_path / "data").mkdir()
    zip_folder(folder, tmp_path / "data" / "medical-masks.zip", "medical-masks")
    shutil.rmtree(tmp_path / "unzipped")
    process = run_snakemake(
        tmp_path, "results/medical_masks/data/annotations.csv", config=ROOT / "configs/medical-masks.yaml"
    )
    assert process.returncode == 0
    rows = pd.read_csv(tmp_path / "results/medical_masks/data/annotations.csv")
    assert len(rows) > 0 and set(rows["split"]) >= {"train", "test"}
