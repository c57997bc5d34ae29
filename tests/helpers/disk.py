"""A small filesystem to fill: a tmpfs mounted for one test (needs root), resizable in place.

    with small_disk(tmp_path / "disk", "4m") as folder:
        ...                          # writes under folder fail with ENOSPC past 4 MiB
        grow(folder, "64m")          # space is back, the files stay

Where no tmpfs can be mounted (not root, no `mount`), the test is skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's syntax: 4m, 1g) at `folder`, unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs a small tmpfs, which only root can mount")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs at {folder}: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def grow(folder: Path, size: str) -> None:
    """Give the tmpfs at `folder` more room, keeping its files."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """A filler file that leaves about `leave` bytes free at `folder` (tmpfs counts whole pages);
    delete it to get the space back. Allocated, not written: instant, so a test can fill the disk
    while a job runs."""
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        size = max(shutil.disk_usage(folder).free - leave, 0)
        while size > 0:
            try:
                os.posix_fallocate(handle.fileno(), 0, size)
                break
            except OSError:  # the filler's own pages: ask for one page less
                size -= 4096
    return filler
