"""`train.compile: true`: a model's training steps through `torch.compile` (issue 26).

    step_model = for_training(model, device, where="models.fer_cnn.train.compile")
    train_one_epoch(step_model, ...)      # the compiled module shares the model's parameters

Only the training forward (and the backward autograd derives from it) is compiled. The model
itself stays the plain module: its state_dict keys, checkpoints, validation and evaluation are
exactly those of an uncompiled run, and a checkpoint loads without torch.compile. Shapes are
static (`dynamic=False`): an epoch has at most two batch sizes, each compiled once (the first
epoch pays for it, tens of seconds on a CPU; bench/real_scale.py --compile prints it).

Results: the compiled kernels fuse and reorder floating-point operations, so a compiled
training agrees with the eager one to a tolerance, not bit for bit (README, "Compiled
training"); two compiled trainings on the same machine, threads and torch version are
identical, as two eager ones are (tests/unit/training/test_compile.py).

Inductor's CPU backend writes C++ and builds it with the machine's compiler: without one
(`g++`, `clang++` or $CXX) the model stops here with one line instead of a compiler traceback
in the first batch.
"""

from __future__ import annotations

import os
import shutil

import torch
import torch._inductor.config
from torch import nn

from maskflow.errors import ConfigError

CXX_CANDIDATES = ("g++", "clang++", "c++")


def cpp_compiler() -> str | None:
    """The C++ compiler inductor's CPU backend would call ($CXX first), or None."""
    if os.environ.get("CXX"):
        return shutil.which(os.environ["CXX"])
    return next((path for path in map(shutil.which, CXX_CANDIDATES) if path), None)


def for_training(model: nn.Module, device: torch.device, where: str) -> nn.Module:
    """`model` compiled for its training steps; `where` names the config key in errors."""
    if device.type == "cpu" and cpp_compiler() is None:
        raise ConfigError(
            f"{where}: torch.compile on the CPU needs a C++ compiler (g++ or clang++, or $CXX) and none is on "
            "PATH; install one (Debian: apt-get install g++) or set compile: false"
        )
    # The full switch this time: it also sets inductor's own deterministic flag, which
    # maskflow.runtime.device.configure leaves alone to spare uncompiled jobs the import.
    torch.use_deterministic_algorithms(True)
    # Dropout and RReLU draw from torch's own generator, as in eager mode: inductor's default
    # (its own Philox streams) gives other masks, and a training that no longer agrees with
    # the eager one beyond float rounding.
    torch._inductor.config.fallback_random = True
    return torch.compile(model, dynamic=False)
