"""Provenance: what produced a result (code version, config, libraries, machine, data).

The report's last section is built from `collect(...)`; nothing here changes any state.

    python -m maskflow.report.provenance .      # prints the provenance of the current checkout as JSON
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# distribution name -> how the report names it. Versions come from package metadata, so
# nothing heavy is imported just to read a version string.
PACKAGES = {
    "maskflow": "maskflow",
    "snakemake": "snakemake",
    "torch": "torch",
    "torchvision": "torchvision",
    "numpy": "numpy",
    "pandas": "pandas",
    "scikit-learn": "scikit-learn",
    "scipy": "scipy",
    "matplotlib": "matplotlib",
    "pillow": "pillow",
    "opencv-python-headless": "opencv",
}


def _git(repo_dir: str | Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_info(repo_dir: str | Path) -> dict:
    """Commit and whether tracked files differ from it (`dirty`); None values outside a git checkout."""
    commit = _git(repo_dir, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "branch": None}
    # Untracked files are ignored: results and caches live in the tree and are not code.
    status = _git(repo_dir, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status), "branch": _git(repo_dir, "rev-parse", "--abbrev-ref", "HEAD")}


def package_versions() -> dict[str, str | None]:
    versions = {"python": platform.python_version()}
    for distribution, name in PACKAGES.items():
        try:
            versions[name] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# Where a GPU driver shows itself: NVIDIA's lists its GPUs, ROCm's (torch.cuda on AMD) its device
# file. Without either, torch cannot see a GPU.
GPU_DRIVER_PATHS = (Path("/proc/driver/nvidia/gpus"), Path("/dev/kfd"))


def device_info() -> dict:
    """The machine: OS, CPU, cores and the GPU torch sees (if any).

    torch is imported only where a GPU driver is loaded: elsewhere it could not see a GPU, and
    its import (1.5 CPU s) would sit on the run's last job.
    """
    info = {"platform": platform.platform(), "cpu": _cpu_model(), "cores": os.cpu_count(), "gpu": None}
    if not any(path.exists() for path in GPU_DRIVER_PATHS):
        return info
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
            info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return info


def manifest_summary(path: str | Path) -> dict:
    """A dataset's raw files in brief: count, bytes, and one checksum over the per-file checksums."""
    import hashlib

    manifest = json.loads(Path(path).read_text())
    files = manifest.get("files", [])
    digest = hashlib.sha256("\n".join(f"{f['path']} {f['sha256']}" for f in files).encode()).hexdigest()
    return {"files": len(files), "bytes": sum(int(f.get("bytes", 0)) for f in files), "sha256_of_files": digest}


def collect(repo_dir: str | Path) -> dict:
    """Everything the report's provenance section shows about code, libraries and machine."""
    return {
        "git": git_info(repo_dir),
        "versions": package_versions(),
        "device": device_info(),
        "python_executable": sys.executable,
    }


if __name__ == "__main__":
    print(json.dumps(collect(sys.argv[1] if len(sys.argv) > 1 else "."), indent=2))
