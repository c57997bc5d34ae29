"""Argument files: the lists a job reads for every model of a dataset or a sweep (their metrics,
predictions, histories, run records, descriptions), one item per line, which the job's command
takes as `@file` (argparse's fromfile_prefix_chars, maskflow.cli).

    from maskflow import arguments
    arguments.lines("compare_metrics", "masks", experiment, tracking_plan)   # the file's items
    arguments.path_of("sweep_{sweep}_metrics")                               # an input function

Snakemake starts a job as `bash -c COMMAND`, and one argument may hold 128 KiB: with the paths on
the command line, the compare job of a dataset of about 1,100 models or more could not start
("Argument list too long"; measured on a 1,500-member sweep: 174,431 bytes for compare, 133,373
for the sweep). The files are written by workflow/rules/arguments.smk. Names: compare_metrics,
compare_predictions (test split), compare_descriptions (one line: a JSON object),
sweep_{sweep}_metrics, sweep_{sweep}_history, track_runs, track_members (one line a member: a
JSON object).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from maskflow import layout


def lines(name: str, dataset: str, experiment: layout.Experiment, tracking_plan) -> list[str]:
    """The items of the argument file `name` of `dataset`."""
    models = experiment.models_of(dataset)
    if name == "compare_descriptions":  # descriptions stay out of checkpoints and metrics
        descriptions = {model: experiment.evaluated[model].get("description") or "" for model in models}
        return [json.dumps(descriptions, sort_keys=True)]
    if name.startswith("sweep_"):  # sweep_{sweep}_metrics, sweep_{sweep}_history
        sweep, key = name[len("sweep_") :].rsplit("_", 1)
        return experiment.model_files(dataset, experiment.sweep_models(dataset, sweep), key)
    if name == "track_runs":
        return tracking_plan.runs(dataset)
    if name == "track_members":  # one line a sweep member: a JSON object (its files and base)
        return tracking_plan.member_lines(dataset)
    if name == "compare_metrics":
        return experiment.model_files(dataset, models, "metrics")
    if name == "compare_predictions":
        return experiment.model_files(dataset, models, "predictions", split="test")
    raise ValueError(f"no argument file named {name!r} (see maskflow.arguments)")


def path_of(name: str) -> Callable:
    """An input function: the argument file `name` ({sweep} from the job's wildcards) of the job's dataset."""
    return lambda wc: layout.ARGUMENTS.format(dataset=wc.dataset, name=name.format(**wc))
