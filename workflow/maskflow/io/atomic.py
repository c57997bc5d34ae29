"""Atomic writes: a file either does not exist or is complete.

Every output goes to a temporary file in the same folder, is flushed to disk, then renamed
over the target (`os.replace` is atomic on POSIX). An interrupted job never leaves a file that
looks finished, which is what lets Snakemake's rerun logic be trusted. A write that runs out of
space raises DiskFullError naming the target, which keeps its previous content.

    with atomic_path("results/x.npy") as tmp:
        np.save(tmp, array)
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maskflow.errors import DiskFullError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` if the block succeeds.

    `suffix` defaults to the target's own suffix, because some writers (np.save, savefig)
    choose the format from it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name[:100]}.tmp-", suffix=target.suffix if suffix is None else suffix
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes 0600 files; give the result the permissions a plain open() would, so
        # collaborators on a shared cluster filesystem can read the results.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno in DISK_FULL:
            raise DiskFullError(f"{target}: {os.strerror(error.errno).lower()}; {LEFT_AS_IT_WAS}") from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# A full disk, an exhausted quota or a file size limit: the write fails with one line naming the file (the CLI's
# MaskflowError), the target keeps its previous content, and the temporary file is removed.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
LEFT_AS_IT_WAS = "it was left as it was; free some space and run the same command again"


def preallocate(path: Path) -> None:
    """Reserve the blocks of a file made sparse (np.lib.format.open_memmap), before it is filled
    through a memory map: on a full disk a store into a mapped page cannot fail with an error,
    the kernel kills the process (SIGBUS), whereas this fails with ENOSPC first."""
    if not hasattr(os, "posix_fallocate"):  # macOS: no way to reserve; the map is filled as before
        return
    with open(path, "rb+") as handle:
        try:
            os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
        except OSError as error:
            if error.errno not in (errno.EINVAL, errno.EOPNOTSUPP):  # a filesystem that cannot: as before
                raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays appear in metrics; Path in manifests.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as UTF-8 CSV without its index."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    write_text(path, buffer.getvalue())


def save_npy(path: str | os.PathLike, array) -> None:
    import numpy as np

    with atomic_path(path) as tmp:
        np.save(tmp, array, allow_pickle=False)


def save_figure(path: str | os.PathLike, figure, **kwargs) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    kwargs.setdefault("dpi", 100)
    kwargs.setdefault("bbox_inches", "tight")
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    finally:
        plt.close(figure)
