# Argument files: the lists a job reads for every model of a dataset or a sweep (their metrics,
# predictions, histories, run records, descriptions), one item per line, which the job's command
# takes as `@file` (argparse's fromfile_prefix_chars, maskflow.cli). Snakemake starts a job as
# `bash -c COMMAND`, and one argument may hold 128 KiB: with the paths on the command line, the
# compare job of a 1,000-model dataset could not start ("Argument list too long"). Written by
# the Snakemake process itself (run:), so a list is rewritten exactly when it changes (params),
# and the jobs reading it rerun then, as they would for the files it names.


def argument_lines(dataset, name):
    """The items of one argument file, by name."""
    models = EXPERIMENT.models_of(dataset)
    if name == "compare_descriptions":  # one line: a JSON object (kept out of checkpoints and metrics)
        return [as_json({model: EVALUATED[model].get("description") or "" for model in models})]
    if name.startswith("sweep_"):  # sweep_{sweep}_metrics, sweep_{sweep}_history
        sweep, key = name[len("sweep_") :].rsplit("_", 1)
        return EXPERIMENT.model_files(dataset, EXPERIMENT.sweep_models(dataset, sweep), key)
    if name == "track_runs":
        return TRACKING_PLAN.runs(dataset)
    key = name[len("compare_") :]  # compare_metrics, compare_predictions (test split)
    split = {"split": "test"} if key == "predictions" else {}
    return EXPERIMENT.model_files(dataset, models, key, **split)


def argument_file(name):
    """An input function: the argument file `name` of the job's dataset ({sweep} filled in)."""
    return lambda wc: layout.ARGUMENTS.format(dataset=wc.dataset, name=name.format(**wc))


localrules:
    argument_file,


rule argument_file:
    output:
        layout.ARGUMENTS,
    log:
        "results/{dataset}/logs/arguments/{name}.log",
    wildcard_constraints:
        name=r"[A-Za-z0-9_]+",
    params:
        lines=lambda wc: argument_lines(wc.dataset, wc.name),
    run:
        from maskflow.io.atomic import write_text

        write_text(output[0], "".join(f"{line}\n" for line in params.lines))
