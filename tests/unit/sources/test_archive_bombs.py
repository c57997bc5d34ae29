"""An archive whose members unpack to far more than its size (a zip or tar bomb) is refused
before anything is written, naming the sizes and the limit it broke (issue 27, point 6).

The bombs are real: 300 MiB of zeros deflated or gzipped to a few hundred KiB. The free-space
check runs on a real small tmpfs (tests/helpers/disk.py).
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from maskflow.errors import DataError
from maskflow.sources import local
from maskflow.sources.fetch import fetch

from helpers.disk import small_disk

BOMB_BYTES = 300 * 2**20  # more than local.RATIO_FLOOR_BYTES, ~1000 times its compressed size


class Zeros(io.RawIOBase):
    """`size` zero bytes, read in chunks (never all in memory)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def zip_bomb(path: Path, members: int = 1) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            with zf.open(f"data/part{i}.csv", "w", force_zip64=True) as member:
                chunk = bytes(2**20)
                for _ in range(BOMB_BYTES // members // len(chunk)):
                    member.write(chunk)
    return path


def tar_bomb(path: Path) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        info = tarfile.TarInfo("data/part0.csv")
        info.size = BOMB_BYTES
        tf.addfile(info, Zeros(BOMB_BYTES))
    return path


@pytest.fixture
def out(tmp_path):
    return tmp_path / "resources" / "d" / "raw", tmp_path / "resources" / "d" / "manifest.json"


def written_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize("make, name", [(zip_bomb, "bomb.zip"), (tar_bomb, "bomb.tar.gz")])
def test_a_bomb_is_refused_by_the_ratio_before_anything_is_written(tmp_path, out, make, name):
    raw, manifest = out
    archive = make(tmp_path / name)
    assert archive.stat().st_size * local.MAX_RATIO < BOMB_BYTES  # it is one
    with pytest.raises(DataError) as error:
        fetch("d", {"kind": "path", "path": str(archive)}, raw, manifest)
    message = str(error.value)
    assert message.startswith(f"{archive}: its members unpack to 300.0 MiB (")
    assert f"more than the limit of {local.MAX_RATIO} times (maskflow.sources.local.MAX_RATIO)" in message
    assert written_under(tmp_path / "resources") == []


def test_an_archive_over_the_total_limit_is_refused_naming_it(tmp_path, out, monkeypatch):
    # Random bytes do not compress: the ratio is 1, only the total limit can stop it.
    raw, manifest = out
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.bin", os.urandom(3 * 2**20))
    monkeypatch.setattr(local, "MAX_UNPACKED_BYTES", 2 * 2**20)
    with pytest.raises(DataError) as error:
        fetch("d", {"kind": "path", "path": str(archive)}, raw, manifest)
    assert "unpack to 3.0 MiB" in str(error.value)
    assert "more than the 2.0 MiB limit on an archive's unpacked total (maskflow.sources.local.MAX_UNPACKED_BYTES)" in (
        str(error.value)
    )
    assert written_under(tmp_path / "resources") == []


def test_an_archive_larger_than_the_free_space_is_refused_naming_it(tmp_path):
    archive = tmp_path / "photos.tar"
    with tarfile.open(archive, "w") as tf:
        data = os.urandom(6 * 2**20)
        info = tarfile.TarInfo("images/a.bin")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with small_disk(tmp_path / "disk", "4m") as disk:
        with pytest.raises(DataError) as error:
            local.place(archive, disk / "raw")
        assert "unpack to 6.0 MiB" in str(error.value) and f"free at {disk / 'raw'}" in str(error.value)
        assert written_under(disk) == []


def test_ordinary_archives_still_unpack(tmp_path):
    archive = tmp_path / "text.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pixels.csv", "0 " * 2**20)  # 2 MiB of text at a ratio far above 100: small, so no bomb
    local.place(archive, tmp_path / "raw")
    assert (tmp_path / "raw" / "pixels.csv").stat().st_size == 2 * 2**20
