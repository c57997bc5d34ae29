"""Helpers shared by the test modules (pytest puts tests/ on sys.path: pyproject's `pythonpath`).

    from helpers import ROOT, TINY_CONFIG
    from helpers.snakemake import run_snakemake, job_stats, copy_tree
    from helpers.training import SPEC, spec_with, train, write_cache          # blob caches, `maskflow train`
    from helpers.evaluation import CLASSES, write_cache, write_checkpoint     # caches and checkpoints to evaluate

Test modules import from here, never from each other; tests/conftest.py keeps only fixtures
and hooks.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = ROOT / "tests" / "config" / "tiny.yaml"
