"""Planning a large sweep in time linear in its jobs, with a small constant (issue 26).

Called once from workflow/rules/common.smk, before Snakemake builds the DAG:

    from maskflow.runtime.planning import cache_function_signatures
    cache_function_signatures()

Snakemake 9 (9.27 at least) asks `inspect.signature` which arguments an input, params, threads or
resources function takes every time it calls one: for every job, several times. A rule's functions
are the same objects for all its jobs, so their signatures are looked up once here and kept. In a
1,000-member sweep that is about 30,000 signature computations fewer (tests/unit/runtime/test_planning.py counts
them). A renamed internal leaves Snakemake as it was (False).
"""

from __future__ import annotations

from collections.abc import Callable

# The Snakemake modules that call get_function_params by a name imported from snakemake.common.
CALLERS = ("snakemake.common", "snakemake.rules", "snakemake.jobs")


def cache_function_signatures() -> bool:
    """Make Snakemake's get_function_params look each function up once; True when installed."""
    import importlib

    try:
        modules = [importlib.import_module(name) for name in CALLERS]
    except ImportError:
        return False
    original = getattr(modules[0], "get_function_params", None)
    if original is None:
        return False
    if getattr(original, "cached", False):  # installed already (the workflow read twice)
        return True
    cached = _cached(original)
    for module in modules:
        if getattr(module, "get_function_params", None) is original:
            module.get_function_params = cached
    return True


def _cached(original: Callable) -> Callable:
    found: dict = {}

    def get_function_params(func):
        try:
            return found[func]
        except KeyError:
            params = found[func] = original(func)
            return params
        except TypeError:  # an unhashable callable: looked up each time, as before
            return original(func)

    get_function_params.cached = True
    get_function_params.original = original
    return get_function_params
