"""The three places maskflow changes Snakemake's own internals, each checked against a version range.

    from maskflow.runtime.snakemake_patches import params_without_pandas, unthrottle_local_scheduler
    params_without_pandas()                  # common.smk, before Snakemake checks any output
    cache_function_signatures()              # common.smk, before Snakemake builds the DAG
    unthrottle_local_scheduler(workflow)     # common.smk's `onstart:` hook

Each patches private attributes, so each only acts when the attribute still has the shape they
were written for, and otherwise leave Snakemake as it was (and return False). CHECKED says on
which Snakemake versions each was read and measured; tests/unit/runtime/test_snakemake_patches.py fails, naming
the attribute, when the installed Snakemake no longer has that shape. Before widening a range,
read the new version's code at the places named below. The job rate limiter is a Snakemake bug
reported upstream in docs/upstream-snakemake-rate-limiter.md: when it is fixed there, this patch
goes.
"""

from __future__ import annotations

# patch -> (first, last) Snakemake version whose code it was read against and tested with
CHECKED = {
    "unthrottle_local_scheduler": ("9.27.1", "9.27.1"),
    "params_without_pandas": ("9.27.1", "9.27.1"),
    "cache_function_signatures": ("9.27.1", "9.27.1"),
}

# The Snakemake modules that call get_function_params by a name imported from snakemake.common.
SIGNATURE_CALLERS = ("snakemake.common", "snakemake.rules", "snakemake.jobs")


def unthrottle_local_scheduler(workflow) -> bool:
    """Drop Snakemake's job rate limit (`--max-jobs-per-timespan`, 100/1s by default) from a
    local run's scheduler; True when dropped. Called from the workflow's `onstart:` hook, the
    first moment the scheduler exists and the last before it schedules anything.

    Patched: `workflow.scheduler.job_rate_limiter` (snakemake.scheduling.job_scheduler.JobScheduler,
    set in its __init__; None is the state it has under --dry-run or --touch, which
    `JobScheduler.schedule` and `_job_selector` handle as "no limit").

    The limit is for cluster submission. In Snakemake 9 (9.27 at least) it also arms a 1-second
    timer at every scheduling round, and each timer's round arms the next: every finished job
    starts one more chain, so after N jobs the scheduler runs about N rounds a second, each one
    re-reading the input sizes of every ready job and solving its job selection again. In a
    100-member sweep that was 9,269 rounds for 401 jobs, most of Snakemake's own CPU
    (bench/README.md). Without a limiter, Snakemake's API default, a round runs when a job
    finishes. A cluster run (`--profile profiles/slurm`) keeps its limit."""
    scheduler = getattr(workflow, "scheduler", None)
    if scheduler is None or not getattr(workflow, "local_exec", False):
        return False
    if getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None
    return True


def params_without_pandas() -> bool:
    """Have Snakemake serialise job params for its `params` rerun trigger without importing pandas;
    True when done. Called from common.smk, before Snakemake checks any output.

    Patched: `snakemake.persistence.PersistenceBase._serialize_param`, a property that returns
    `_serialize_param_pandas` whenever pandas is installed, else `_serialize_param_builtin`; it
    is replaced by a property returning `_serialize_param_builtin`.

    Snakemake 9 (9.27 at least) imports pandas whenever it is installed, to hash params that are
    DataFrames, Series or Indexes, and serialises every other value with its builtin serialiser.
    maskflow's params are strings, numbers and lists, so the records and the comparison are the
    same either way; only the import goes, 0.45 s of every Snakemake start that checks a built
    tree (a no-op `snakemake -n all`: 1.8 s before). A renamed internal leaves Snakemake as it
    was (False), and tests/unit/runtime/test_snakemake_patches.py fails."""
    try:
        from snakemake.persistence import PersistenceBase
    except ImportError:
        return False
    if not hasattr(PersistenceBase, "_serialize_param_builtin") or not isinstance(
        getattr(PersistenceBase, "_serialize_param", None), property
    ):
        return False
    PersistenceBase._serialize_param = property(lambda self: self._serialize_param_builtin)
    return True


def cache_function_signatures() -> bool:
    """Make Snakemake's get_function_params look each function up once; True when installed.
    Called once from workflow/rules/common.smk, before Snakemake builds the DAG (issue 26).

    Snakemake 9 (9.27 at least) asks `inspect.signature` which arguments an input, params, threads
    or resources function takes every time it calls one: for every job, several times. A rule's
    functions are the same objects for all its jobs, so their signatures are looked up once and
    kept: in a 1,000-member sweep about 30,000 signature computations fewer
    (tests/unit/runtime/test_planning.py counts them).

    Patched: `get_function_params` of snakemake.common, and the same name imported into
    snakemake.rules and snakemake.jobs (SIGNATURE_CALLERS). A renamed internal leaves Snakemake
    as it was (False)."""
    import importlib

    try:
        modules = [importlib.import_module(name) for name in SIGNATURE_CALLERS]
    except ImportError:
        return False
    original = getattr(modules[0], "get_function_params", None)
    if original is None:
        return False
    if getattr(original, "cached", False):  # installed already (the workflow read twice)
        return True
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
    for module in modules:
        if getattr(module, "get_function_params", None) is original:
            module.get_function_params = get_function_params
    return True
