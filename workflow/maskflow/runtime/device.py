"""Where and how training runs: device choice, thread count, determinism, mixed precision.

    device = resolve_device("auto")            # CUDA when present, else CPU
    configure(device, threads=2)               # exact threads, deterministic kernels
    amp = MixedPrecision.for_device(device, enabled=True)
    with amp.autocast():
        loss = model(x)

Reproducibility needs all of: deterministic algorithms (errors instead of silently using a
non-deterministic kernel; set through `torch.set_deterministic_debug_mode("error")`, the same
switch as `torch.use_deterministic_algorithms(True)` without its import of the torch.compile
stack), cuDNN in deterministic mode without autotuning
(autotuning picks kernels by timing), and `CUBLAS_WORKSPACE_CONFIG`, which cuBLAS reads when
its first handle is created, so it is set before any CUDA work.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from maskflow.errors import ConfigError

log = logging.getLogger(__name__)

CUBLAS_WORKSPACE = ":4096:8"


def _cuda_or_cpu(cuda_available: bool) -> str:
    return "cuda" if cuda_available else "cpu"


def _cuda_only(cuda_available: bool) -> str:
    if not cuda_available:
        raise ConfigError(
            "device: 'cuda' was asked for but PyTorch sees no CUDA device "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); use device: auto or cpu"
        )
    return "cuda"


# config `device` -> chooser(cuda_available) -> torch device type
DEVICE_CHOICES: dict[str, Callable[[bool], str]] = {
    "auto": _cuda_or_cpu,
    "cpu": lambda cuda_available: "cpu",
    "cuda": _cuda_only,
}


# What a SLURM job that was granted GPUs (--gpus, --gres=gpu) finds in its environment: GPU
# counts, and lists of card indices ("0" is the first card). A person's own CUDA_VISIBLE_DEVICES
# outside SLURM promises nothing: `auto` may fall back to the CPU there.
SLURM_GPU_COUNTS = ("SLURM_GPUS_ON_NODE", "SLURM_GPUS")
SLURM_GPU_LISTS = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES")


def promised_gpus(environ: Mapping[str, str]) -> str | None:
    """The variables by which a SLURM job was promised GPUs ("NAME=value, ..."), else None.

    Inside a job (SLURM_JOB_ID set): a GPU count other than 0, or a non-empty card list. The job
    step may hide the card lists (the executor plugin's srun does): the count stays."""
    if not environ.get("SLURM_JOB_ID"):
        return None
    found = [f"{name}={environ[name]}" for name in SLURM_GPU_COUNTS if environ.get(name, "").strip() not in ("", "0")]
    found += [f"{name}={environ[name]}" for name in SLURM_GPU_LISTS if environ.get(name, "").strip()]
    return ", ".join(found) or None


def resolve_device(
    requested: str, cuda_available: bool | None = None, environ: Mapping[str, str] | None = None
) -> torch.device:
    if requested not in DEVICE_CHOICES:
        raise ConfigError(f"device: {requested!r} is not allowed; allowed values: {', '.join(DEVICE_CHOICES)}")
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    promise = promised_gpus(os.environ if environ is None else environ)
    if promise and requested != "cpu" and not cuda_available:
        # A GPU hidden by the job step or a driver mismatch would otherwise turn a GPU training
        # into a CPU one that runs out of its reservation, and of its retries.
        raise ConfigError(
            f"device: {requested!r}: this SLURM job was promised a GPU ({promise}) but PyTorch sees none "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); refusing to train on the CPU"
        )
    return torch.device(DEVICE_CHOICES[requested](cuda_available))


def configure(device: torch.device, threads: int) -> None:
    """Exactly `threads` CPU threads and deterministic kernels, before any model work."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    # = torch.use_deterministic_algorithms(True), less that function's import of torch._inductor
    # (only to copy the flag into torch.compile's config; maskflow compiles nothing): 1.3 CPU s of
    # every torch train and evaluate job
    torch.set_deterministic_debug_mode("error")
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        # Allowed once per process, before inter-op work; a second training in one process
        # (tests) keeps the first setting.
        log.debug("inter-op threads already set to %d", torch.get_num_interop_threads())


def amp_dtype(device_type: str, enabled: bool, bf16_supported: bool) -> torch.dtype | None:
    """The autocast dtype: bf16 where the GPU has it (no loss scaling needed), else fp16; None
    on CPU, where autocast is slower than float32 on most processors."""
    if not enabled or device_type != "cuda":
        return None
    return torch.bfloat16 if bf16_supported else torch.float16


@dataclass
class MixedPrecision:
    device_type: str
    dtype: torch.dtype | None
    scaler: torch.amp.GradScaler  # disabled (a pass-through) unless fp16

    @classmethod
    def for_device(cls, device: torch.device, enabled: bool) -> MixedPrecision:
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        dtype = amp_dtype(device.type, enabled, bf16)
        scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
        return cls(device.type, dtype, scaler)

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        if self.dtype is None:
            return "off"
        return f"{str(self.dtype).removeprefix('torch.')} autocast" + (
            " + loss scaling" if self.scaler.is_enabled() else ""
        )


def place(model: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """Move a model to `device` in channels-last memory, the layout of the cached arrays.

    Convolutions run ~1.7x faster so on CPU (oneDNN) and use tensor cores better on GPUs.
    Training and `load_model` both place models here, so both compute exactly alike."""
    return model.to(device=device, memory_format=torch.channels_last)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    # Passive OpenMP waits (set by the workflow when jobs share cores) are worth knowing when
    # reading a log's epoch times: see maskflow.runtime.openmp.
    waits = ", passive OpenMP waits" if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" else ""
    return f"cpu ({threads} thread{'s' if threads != 1 else ''}{waits})"
