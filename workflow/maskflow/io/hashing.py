"""Every hash maskflow records, in one place.

- `sha256_file`: a file's bytes (cache checksums, manifests, checkpoint data checksums);
- `state_sha256`: a state dict's (torch tensors or NumPy arrays) names, dtypes, shapes and bytes (`weights_sha256`);
- `fingerprint`: a short stable hash of a JSON-serialisable value (config hashes, resume keys);
- `derived_seed`: independent, stable seeds per purpose from one seed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def state_sha256(state: Mapping[str, object]) -> str:
    """sha256 over a state dict's names, dtypes, shapes and bytes (key order does not matter).

    What training records as `weights_sha256`: a flipped byte in a tensor changes it. The values
    are torch tensors (torch models) or NumPy arrays (the NumPy MLP, hashed without importing
    torch); a dtype is written as its library names it, so the two kinds never collide."""
    digest = hashlib.sha256()
    for name in sorted(state):
        value = state[name]
        if hasattr(value, "detach"):  # a torch tensor
            import torch

            tensor = value.detach().cpu().contiguous()
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            import numpy as np

            array = np.ascontiguousarray(value)
            digest.update(f"{name}|{array.dtype}|{tuple(array.shape)}|".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-serialisable value (config hashes in checkpoints, report)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def derived_seed(seed: int, purpose: str) -> int:
    """Independent, stable seeds per purpose (epoch order, augmentation) from the model's seed."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "little") >> 1
