"""Running the repository's Snakefile in a temporary folder, and reading what it printed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT, TINY_CONFIG

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake_command(workdir: Path, *args: str, config: Path = TINY_CONFIG) -> list[str]:
    """The command line that runs the repository's Snakefile in `workdir` on `config`, 2 cores."""
    return [
        *SNAKEMAKE,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        "--cores",
        "2",
        *args,
    ]


def run_snakemake(workdir: Path, *args: str, config: Path = TINY_CONFIG, check: bool = True, timeout: float = 600):
    """Run the repository's Snakefile in `workdir` (results land there) and return the process."""
    command = snakemake_command(workdir, *args, config=config)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    process = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and process.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({process.returncode}):\n{process.stdout[-4000:]}\n{process.stderr[-8000:]}"
        )
    return process


def job_stats(output: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table (rule -> count, plus 'total'); {} when nothing runs."""
    match = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\n\n", output, re.S)
    if not match:
        return {}
    return {name: int(count) for name, count in (line.split() for line in match.group(1).splitlines() if line.strip())}


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return dst
