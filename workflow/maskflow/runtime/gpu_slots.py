"""One GPU per train job on a local multi-GPU machine.

Snakemake limits how many CUDA jobs run at once (the `local_gpu_slots` resource of
profiles/default) but does not say which card each should use, and it does not set
CUDA_VISIBLE_DEVICES. Without help every job would pick cuda:0. Here each job claims a free card by taking an exclusive
`fcntl.flock` on `gpu<index>.lock` in a lock folder shared by the jobs of this machine:

    from maskflow.runtime import gpu_slots
    device = torch.device(gpu_slots.claim_gpu())   # "cuda:1", held until the process exits

The kernel drops a flock when its process ends, however it ends (SIGKILL included), so a
crashed job never leaves a card reserved. When CUDA_VISIBLE_DEVICES is set (SLURM with
--gpus, or a person choosing cards), the scheduler or person has chosen: `claim_gpu` returns
plain "cuda" (the first visible card) and locks nothing.

The lock folder is per machine: $MASKFLOW_GPU_LOCK_DIR, else <tmp>/maskflow-gpu-slots. It must
not be on a shared filesystem, where flock may not work and jobs of other hosts would collide.

    python -m maskflow.runtime.gpu_slots        # prints the card this process would get
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "MASKFLOW_GPU_LOCK_DIR"

# index -> open lock file of the cards this process holds (closing it frees the card).
_HELD: dict[int, int] = {}


def lock_dir() -> Path:
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "maskflow-gpu-slots")


def visible_gpu_count() -> int:
    """GPUs this machine shows, without importing torch (cheap enough for a Snakefile):
    the CUDA_VISIBLE_DEVICES list when set, else the /dev/nvidia<N> device files.
    profiles/default computes its `local_gpu_slots` limit the same way."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return len([d for d in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()])
    return len(glob.glob("/dev/nvidia[0-9]*"))


def _torch_device_count() -> int:
    import torch

    # Counted through NVML where possible: this does not create a CUDA context.
    return torch.cuda.device_count()


def _try_lock(folder: Path, index: int) -> int | None:
    """Open and flock `gpu<index>.lock` without blocking; the fd if we got it, else None."""
    path = folder / f"gpu{index}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    # Say who holds it, for a person looking at the folder; the lock itself is the flock.
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def claim_gpu(
    device_count: Callable[[], int] = _torch_device_count,
    folder: str | os.PathLike | None = None,
    wait: bool = True,
    poll_seconds: float = 1.0,
) -> str:
    """The torch device string this job should train on, reserving its card.

    Returns "cuda" when CUDA_VISIBLE_DEVICES is set or no card can be counted, else
    "cuda:<index>" of the lowest free card, waiting for one when all are taken (`wait=False`
    raises TimeoutError instead). A second call in the same process returns the same card.
    """
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return "cuda"
    if _HELD:
        return f"cuda:{min(_HELD)}"
    count = device_count()
    if count <= 0:
        return "cuda"
    folder = Path(folder) if folder is not None else lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    announced = False
    while True:
        for index in range(count):
            fd = _try_lock(folder, index)
            if fd is not None:
                _HELD[index] = fd
                log.info("using GPU %d of %d (lock %s)", index, count, folder / f"gpu{index}.lock")
                return f"cuda:{index}"
        if not wait:
            raise TimeoutError(f"all {count} GPUs are taken by other jobs (locks in {folder})")
        if not announced:
            log.info("all %d GPUs are taken by other jobs; waiting for one (locks in %s)", count, folder)
            announced = True
        time.sleep(poll_seconds)


def release_gpu() -> None:
    """Give back the card(s) this process holds (process exit does the same)."""
    while _HELD:
        _, fd = _HELD.popitem()
        os.close(fd)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(claim_gpu())
