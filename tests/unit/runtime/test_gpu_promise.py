"""A cluster training that was promised a GPU refuses to train on the CPU (maskflow.runtime.device).

The promise is the SLURM job's environment (SLURM_GPUS_ON_NODE, SLURM_JOB_GPUS,
CUDA_VISIBLE_DEVICES ...); the tests give `maskflow train` such an environment on a machine
where PyTorch sees no GPU, as a job whose card the job step hides or whose driver does not
match would find. tests/workflow/test_slurm.py sees the same refusal in a real SLURM job.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from maskflow.errors import ConfigError
from maskflow.runtime.device import promised_gpus, resolve_device

from helpers.training import cli_args, spec_with, write_cache

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where PyTorch sees no GPU")


@pytest.mark.parametrize(
    ("environ", "promise"),
    [
        ({"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "0"}, "SLURM_JOB_GPUS=0"),  # card index 0
        ({"SLURM_JOB_ID": "7", "SLURM_GPUS_ON_NODE": "1"}, "SLURM_GPUS_ON_NODE=1"),
        ({"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "0,1"}, "CUDA_VISIBLE_DEVICES=0,1"),
        ({"SLURM_JOB_ID": "7", "SLURM_GPUS_ON_NODE": "0", "CUDA_VISIBLE_DEVICES": ""}, None),
        ({"SLURM_JOB_ID": "7"}, None),
        # Outside SLURM, a person's CUDA_VISIBLE_DEVICES promises nothing.
        ({"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_GPUS": "0"}, None),
    ],
)
def test_promised_gpus_reads_the_job_environment(environ, promise):
    assert promised_gpus(environ) == promise


def test_resolve_device_refuses_the_cpu_only_where_a_gpu_was_promised():
    job = {"SLURM_JOB_ID": "7", "SLURM_GPUS_ON_NODE": "1"}
    for device in ("auto", "cuda"):
        with pytest.raises(ConfigError, match=r"promised a GPU \(SLURM_GPUS_ON_NODE=1\) but PyTorch sees none"):
            resolve_device(device, cuda_available=False, environ=job)
    assert resolve_device("cpu", cuda_available=False, environ=job).type == "cpu"
    assert resolve_device("auto", cuda_available=False, environ={}).type == "cpu"


def test_train_promised_a_gpu_stops_with_one_line(tmp_path):
    cache = write_cache(tmp_path / "cache", n_train=30, n_val=10)
    env = {**os.environ, "SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "0", "CUDA_VISIBLE_DEVICES": "0"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "maskflow",
            *cli_args(cache, tmp_path / "out", {**spec_with(epochs=1), "device": "auto"}),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "promised a GPU (SLURM_JOB_GPUS=0, CUDA_VISIBLE_DEVICES=0) but PyTorch sees none" in lines[0]
    assert "refusing to train on the CPU" in lines[0]
    assert not (tmp_path / "out" / "checkpoint.pt").exists()
