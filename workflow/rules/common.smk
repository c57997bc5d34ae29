# Config loading, wildcard constraints and the params helpers every stage shares. Paths and
# target lists live in maskflow.layout, stage logic in the package; the config is validated and
# resolved once, here (maskflow.config), so rules only look things up.
import json
import os
import re
import sys

from snakemake.exceptions import WorkflowError

# The package sits in workflow/; the one call sets PATH, OpenMP waits and PYTHONPATH for jobs.
sys.path.insert(0, os.path.join(workflow.basedir, "workflow"))
from maskflow.runtime.workflow_env import prepare  # noqa: E402
from maskflow.runtime.snakemake_patches import (
    params_without_pandas,
    unthrottle_local_scheduler,
)  # noqa: E402

prepare(workflow)
# Snakemake would import pandas (0.45 s) to compare params that are never pandas objects here.
params_without_pandas()
# Each input/params function's signature once, not at every job (planning a sweep: issue 26).
from maskflow.runtime.snakemake_patches import cache_function_signatures  # noqa: E402

cache_function_signatures()

from maskflow import layout, models  # noqa: E402
from maskflow.config import SPLITS, check_sources, load_and_check  # noqa: E402
from maskflow.errors import MaskflowError  # noqa: E402
from maskflow.runtime.failures import report_failures  # noqa: E402
from maskflow.runtime.gpu_slots import visible_gpu_count  # noqa: E402

CONDA_ENV = "../../envs/maskflow.yaml"

try:
    MF = load_and_check(
        config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
    )
    # A `path` source not yet fetched whose file is absent stops here too, `snakemake -n`
    # included: the path and the source's `hint` (what to download, from where).
    check_sources(MF)
except MaskflowError as error:
    # The message is the first thing the user reads, as `python -m maskflow.config` prints it:
    # a WorkflowError would be framed by Snakemake's "in file common.smk, line ..." and a
    # traceback line, which reads like a crash. SystemExit passes Snakemake's handlers untouched.
    sys.exit(f"config: {error}")


# Snakemake's job rate limit makes a local scheduler poll ever faster (maskflow.runtime.snakemake_patches).
onstart:
    unthrottle_local_scheduler(workflow)


# A failed job's reason is its log's last line: printed last, below Snakemake's tracebacks.
onerror:
    report_failures(log)


EXPERIMENT = layout.Experiment(MF)
DATASETS = MF["datasets"]
MODELS = MF["models"]
ENSEMBLES = MF["ensembles"]
EVALUATED = EXPERIMENT.evaluated
THREADS = MF["threads"]
LOCAL_GPUS = visible_gpu_count()


# Light jobs run on the submitting host under a cluster executor: they take seconds, and a
# compute node may have no internet for `fetch`. Training, caching and evaluation go to the
# cluster.
localrules:
    all,
    fetch,
    class_stats,
    stats_figure,
    evaluate_ensemble,
    compare,
    sweep,
    report_plan,
    report,
    figure_confusion_matrix,
    figure_per_class_accuracy,
    figure_learning_curves,
    figure_misclassified,
    figure_overlays,
    figure_filters,
    figure_filter_maximization,
    figure_saliency,
    figure_latent,
    # MLflow's SQLite store must not be shared over a network file system: runs are logged from
    # the submitting host (tracking.uri: http://... sends them to a shared server instead).
    track_store,
    track,
    track_history,


def names_regex(names):
    """A wildcard constraint matching exactly these names (longest first; nothing when empty)."""
    escaped = [re.escape(name) for name in sorted(names, key=len, reverse=True)]
    return "|".join(escaped) or "(?!x)x"


def names_except(names):
    """A {model} constraint admitting any name but these. In every path template a {model}
    ends a folder name, a log's or a benchmark's stem. Few names are excluded (ensembles), where
    listing every admitted name (hundreds in a sweep) made Snakemake slower for every job it
    plans: it copies the constraint into each output pattern and compiles and substitutes it.
    """
    if not names:
        return "[^/]+"
    return rf"(?!(?:{names_regex(names)})(?:/|\.log$|\.tsv$))[^/]+"


def named(table, wildcards):
    """The resolved model (or ensemble) a job's {model} names. The {model} constraints admit any
    name, so a path naming no model of the config stops here, saying so."""
    try:
        return table[wildcards.model]
    except KeyError:
        raise WorkflowError(
            f"{wildcards.model!r} is not a model"
            + (" or ensemble" if table is EVALUATED else "")
            + f" of this config ({len(table)} defined: {', '.join(sorted(table)[:10])}"
            + (", ..." if len(table) > 10 else "")
            + ")"
        ) from None


ANY_EVALUATED = "[^/]+"  # an unknown name stops in named()
TRAINED = names_except(ENSEMBLES)


wildcard_constraints:
    dataset=names_regex(DATASETS),
    split="|".join(SPLITS),


def folder_of(key):
    """A params function: the folder of the rule's first input file named `key`, so a folder
    argument is derived from the declared files instead of written a second time."""

    def params(wildcards, input):
        files = input[key]
        return os.path.dirname(files if isinstance(files, str) else files[0])

    return params


def as_json(value):
    """Params are JSON strings: Snakemake compares them between runs (params rerun trigger)."""
    return json.dumps(value, sort_keys=True)


def dataset_slice(*keys):
    """A params function returning only the named keys of the wildcard's dataset."""

    def params(wildcards):
        dataset = DATASETS[wildcards.dataset]
        return as_json({key: dataset.get(key) for key in keys})

    return params


def model_spec(wildcards):
    """The one resolved model (or ensemble) a job is about, as JSON."""
    return as_json(named(EVALUATED, wildcards))


# --- train
# Keys of a resolved model that do not change its training: editing them must not retrain it.
NOT_TRAINING = ("description", "figures", "cluster")


def train_spec(wildcards):
    """The one resolved model this job trains, without the keys that do not affect training."""
    spec = named(MODELS, wildcards)
    return as_json(
        {key: value for key, value in spec.items() if key not in NOT_TRAINING}
    )


# --- evaluate
def ensemble_member_files(wildcards):
    """Members' predictions (averaged) and metrics (their parameter counts and seconds add up)."""
    members = named(ENSEMBLES, wildcards)["members"]
    files = [
        layout.MODEL["predictions"].format(
            dataset=wildcards.dataset, model=member, split=split
        )
        for member in members
        for split in SPLITS
    ]
    return files + EXPERIMENT.model_files(wildcards.dataset, members, "metrics")
