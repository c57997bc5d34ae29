"""The advised recovery for a refused cache file rebuilds the cache and retrains nothing when the
rebuilt cache is byte-identical (issue 29.7: `snakemake --forcerun cache` planned every job after
the cache, 247 on the default config). The command is taken from the error message itself, run
for real on a finished tiny run, and the next `snakemake -n all` plans no training or evaluation."""

from __future__ import annotations

import hashlib
import re
import shlex

import pytest

from helpers.snakemake import copy_tree, job_stats, run_snakemake

CACHE = "results/masks/cache"


def digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.workflow
def test_the_advised_cache_rebuild_retrains_nothing(tiny_run, tmp_path):
    workdir = copy_tree(tiny_run, tmp_path / "run")
    before = digests(workdir / CACHE)
    val_x = workdir / CACHE / "val_x.npy"
    val_x.write_bytes(val_x.read_bytes()[: val_x.stat().st_size // 2])  # a copy cut short

    failed = run_snakemake(workdir, "all", check=False)
    assert failed.returncode != 0
    # the reason and the advice, as the onerror handler prints them last
    advice = re.search(r"rebuild it: (snakemake [^(]+?) \(", failed.stderr)
    assert advice, failed.stderr[-3000:]
    command = shlex.split(advice.group(1))
    assert command[:3] == ["snakemake", "--forcerun", "cache"]

    rebuilt = run_snakemake(workdir, *command[1:])
    assert set(job_stats(rebuilt.stdout + rebuilt.stderr)) == {"cache", "class_stats", "total"}
    assert digests(workdir / CACHE) == before

    planned = job_stats(run_snakemake(workdir, "-n", "all").stdout)
    assert not {"train", "evaluate_model", "evaluate_ensemble"} & set(planned), planned
