"""Writes on a full disk, one by one (issue 27, point 5; the stages are in tests/workflow/test_disk_full.py):
an atomic write, a torch checkpoint and a cache filled through a memory map each fail with
DiskFullError naming the file, keep the file's previous content and leave no temporary file.
Real small tmpfs (tests/helpers/disk.py; root only, else skipped saying so)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from maskflow.errors import DiskFullError
from maskflow.io import atomic
from maskflow.models.checkpoint import save_checkpoint

from helpers import ROOT
from helpers.disk import fill, small_disk

LEFT = "no space left on device; it was left as it was; free some space and run the same command again"


def test_an_atomic_write_keeps_the_old_file(tmp_path):
    with small_disk(tmp_path / "disk", "1m") as disk:
        target = disk / "metrics.json"
        atomic.write_text(target, "old\n")
        fill(disk, leave=0)
        with pytest.raises(DiskFullError) as error:
            atomic.write_bytes(target, b"x" * 2**20)
        assert str(error.value) == f"{target}: {LEFT}"
        assert target.read_text() == "old\n"
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "metrics.json"]


def test_a_torch_checkpoint_names_its_file(tmp_path):
    # torch's own file writer would say "PytorchStreamWriter failed writing file data/0" (RuntimeError)
    with small_disk(tmp_path / "disk", "1m") as disk:
        fill(disk, leave=0)
        target = disk / "checkpoint.pt"
        with pytest.raises(DiskFullError) as error:
            save_checkpoint(target, {"model_state": {"w": torch.zeros(100_000)}})
        assert str(error.value) == f"{target}: {LEFT}"
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


FILL_A_MAP = """
import sys
import numpy as np
from maskflow.errors import DiskFullError
from maskflow.io import atomic
try:
    with atomic.atomic_path(sys.argv[1]) as tmp:
        x = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(2**20,))
        atomic.preallocate(tmp)
        x[:] = 1
except DiskFullError as error:
    print(error)
"""


def test_a_memory_mapped_file_is_refused_before_it_is_filled(tmp_path):
    # Without its blocks reserved, filling the map on a full disk kills the process (SIGBUS), so
    # the writer runs in a process of its own.
    with small_disk(tmp_path / "disk", "1m") as disk:
        fill(disk, leave=64 * 1024)  # room for the header and the last page numpy writes, not the rest
        target = disk / "train_x.npy"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
        process = subprocess.run(
            [sys.executable, "-c", FILL_A_MAP, str(target)], capture_output=True, text=True, env=env, timeout=120
        )
        assert process.returncode == 0, f"killed by signal {-process.returncode}" if process.returncode < 0 else process
        assert process.stdout == f"{target}: {LEFT}\n"
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
