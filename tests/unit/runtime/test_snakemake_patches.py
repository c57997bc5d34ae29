"""maskflow.runtime.snakemake_patches: the Snakemake internals the three patches change still have
the shape the patches were written for. When a Snakemake release renames or reshapes one, these
fail, naming the attribute (the patch itself would silently stop acting: it leaves Snakemake as
it was). Then read that release's code at the named place, adapt the patch, and widen CHECKED.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from types import SimpleNamespace

import pytest
import snakemake
from snakemake.persistence import PersistenceBase
from snakemake.scheduling.job_scheduler import JobScheduler

from maskflow.runtime import snakemake_patches
from maskflow.runtime.snakemake_patches import CHECKED, unthrottle_local_scheduler


def rate_limiter_problems(scheduler_class=JobScheduler) -> list[str]:
    """What no longer holds of JobScheduler for unthrottle_local_scheduler to be right."""
    problems = []
    init, whole = inspect.getsource(scheduler_class.__init__), inspect.getsource(scheduler_class)
    if "self.job_rate_limiter = (" not in init:
        problems.append("JobScheduler.__init__ no longer sets self.job_rate_limiter")
    # None must stay the "no limit" state (Snakemake's own under --dry-run / --touch)
    if "if self.job_rate_limiter is None:" not in whole or "if self.job_rate_limiter is not None:" not in whole:
        problems.append("JobScheduler no longer treats job_rate_limiter None as 'no limit'")
    if "self._schedule_reevalutation(self.job_rate_limiter.timespan)" not in whole:
        problems.append("JobScheduler no longer re-arms a timer per round from the limiter (the bug may be fixed)")
    return problems


def serializer_problems(persistence_class=PersistenceBase) -> list[str]:
    """What no longer holds of PersistenceBase for params_without_pandas to be right."""
    problems = []
    if not callable(getattr(persistence_class, "_serialize_param_builtin", None)):
        problems.append("PersistenceBase._serialize_param_builtin is gone")
    if not isinstance(inspect.getattr_static(persistence_class, "_serialize_param", None), property):
        problems.append("PersistenceBase._serialize_param is no longer a property")
    if "self._serialize_param(value)" not in inspect.getsource(persistence_class._params):
        problems.append("PersistenceBase._params no longer serialises through self._serialize_param")
    return problems


def test_installed_snakemake_has_the_job_rate_limiter_the_patch_drops():
    assert rate_limiter_problems() == [], (
        f"Snakemake {snakemake.__version__}: unthrottle_local_scheduler was checked against "
        f"{CHECKED['unthrottle_local_scheduler']}"
    )


def test_installed_snakemake_has_the_param_serialiser_the_patch_replaces():
    assert serializer_problems() == [], (
        f"Snakemake {snakemake.__version__}: params_without_pandas was checked against "
        f"{CHECKED['params_without_pandas']}"
    )


def signature_problems(modules=None) -> list[str]:
    """What no longer holds of Snakemake for cache_function_signatures to be right."""
    import importlib

    modules = modules or [importlib.import_module(name) for name in snakemake_patches.SIGNATURE_CALLERS]
    original = getattr(modules[0], "get_function_params", None)
    if original is None:
        return ["snakemake.common no longer has get_function_params"]
    original = getattr(original, "original", original)  # the workflow may have installed the cache
    return [
        f"{module.__name__} no longer calls get_function_params by that name"
        for module in modules[1:]
        if getattr(
            getattr(module, "get_function_params", None), "original", getattr(module, "get_function_params", None)
        )
        is not original
    ]


def test_installed_snakemake_has_the_signature_lookup_the_patch_caches():
    assert signature_problems() == [], (
        f"Snakemake {snakemake.__version__}: cache_function_signatures was checked against "
        f"{CHECKED['cache_function_signatures']}"
    )
    assert signature_problems([SimpleNamespace(__name__="snakemake.common")]) == [
        "snakemake.common no longer has get_function_params"
    ]


def test_the_checks_see_a_renamed_or_reshaped_internal():
    class Renamed(JobScheduler):
        def __init__(self):
            self.rate_limiter = None

    class Reshaped(PersistenceBase):
        def _serialize_param(self, value):  # a method now, not a property
            return repr(value)

    assert "JobScheduler.__init__ no longer sets self.job_rate_limiter" in rate_limiter_problems(Renamed)
    assert serializer_problems(Reshaped) == ["PersistenceBase._serialize_param is no longer a property"]


def test_every_patch_names_the_versions_it_was_checked_against():
    patches = {name for name, value in vars(snakemake_patches).items() if inspect.isfunction(value)}
    assert set(CHECKED) == patches
    for first, last in CHECKED.values():
        assert tuple(map(int, first.split("."))) <= tuple(map(int, last.split(".")))


def test_the_rate_limiter_is_dropped_from_a_local_run_only():
    def workflow(local: bool):
        return SimpleNamespace(local_exec=local, scheduler=SimpleNamespace(job_rate_limiter=object()))

    local, cluster = workflow(True), workflow(False)
    assert unthrottle_local_scheduler(local) and local.scheduler.job_rate_limiter is None
    assert not unthrottle_local_scheduler(cluster) and cluster.scheduler.job_rate_limiter is not None


def test_params_are_serialised_as_before_without_importing_pandas():
    # In a fresh interpreter: the patch changes a class of the installed Snakemake.
    code = (
        "import sys; from maskflow.runtime.snakemake_patches import params_without_pandas as patch; "
        "from snakemake.persistence import PersistenceBase as P; "
        "before = [P._serialize_param_builtin(None, v) for v in ('a', 1, 0.5, [1, 'b'], {'k': 2})]; "
        "assert patch(); C = type('C', (P,), {}); C.__abstractmethods__ = frozenset(); p = object.__new__(C); "
        "assert [p._serialize_param(v) for v in ('a', 1, 0.5, [1, 'b'], {'k': 2})] == before; "
        "print('pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_the_patches_live_in_their_own_module_only(name):
    from maskflow.runtime import workflow_env

    assert not hasattr(workflow_env, name)
