# Comparison of every model of a dataset (with McNemar tests against its baseline), and one
# table + plot + overlaid learning curves per sweep.

COMPARISON = {
    "table": "results/{dataset}/comparison.csv",
    "groups": "results/{dataset}/comparison_groups.csv",
    "plot": "results/{dataset}/comparison.png",
}
SWEEP = {
    "table": "results/{dataset}/sweeps/{sweep}.csv",
    "plot": "results/{dataset}/sweeps/{sweep}.png",
    "curves": "results/{dataset}/sweeps/{sweep}_curves.png",
}


def evaluated_files(dataset, models, name):
    return [f"results/{dataset}/models/{model}/{name}" for model in models]


def sweep_models(dataset, sweep):
    return [
        name
        for name, spec in MODELS.items()
        if spec.get("sweep") == sweep and spec["dataset"] == dataset
    ]


rule compare:
    input:
        metrics=lambda wc: evaluated_files(
            wc.dataset, models_of(wc.dataset), "metrics.json"
        ),
        predictions=lambda wc: evaluated_files(
            wc.dataset, models_of(wc.dataset), "predictions_test.csv"
        ),
    output:
        table=report(
            COMPARISON["table"],
            category="Comparison",
            caption="../report/comparison.rst",
        ),
        groups=report(
            COMPARISON["groups"],
            category="Comparison",
            caption="../report/comparison_groups.rst",
        ),
        plot=report(
            COMPARISON["plot"],
            category="Comparison",
            caption="../report/comparison.rst",
        ),
    log:
        "results/{dataset}/logs/compare.log",
    conda:
        CONDA_ENV
    params:
        baseline=lambda wc: DATASETS[wc.dataset].get("baseline") or "",
    shell:
        "{MASKFLOW} compare --dataset {wildcards.dataset} --baseline {params.baseline:q}"
        " --metrics {input.metrics:q} --predictions {input.predictions:q}"
        " --table {output.table:q} --groups {output.groups:q} --plot {output.plot:q} 2> {log:q}"


rule sweep:
    input:
        metrics=lambda wc: evaluated_files(
            wc.dataset, sweep_models(wc.dataset, wc.sweep), "metrics.json"
        ),
        histories=lambda wc: evaluated_files(
            wc.dataset, sweep_models(wc.dataset, wc.sweep), "history.csv"
        ),
    output:
        table=report(SWEEP["table"], category="Sweeps", caption="../report/sweep.rst"),
        plot=report(SWEEP["plot"], category="Sweeps", caption="../report/sweep.rst"),
        curves=report(SWEEP["curves"], category="Sweeps", caption="../report/sweep.rst"),
    log:
        "results/{dataset}/logs/sweep_{sweep}.log",
    wildcard_constraints:
        sweep=_names_regex(
            {spec["sweep"] for spec in MODELS.values() if spec.get("sweep")}
        ),
    conda:
        CONDA_ENV
    shell:
        "{MASKFLOW} sweep --sweep {wildcards.sweep} --metrics {input.metrics:q}"
        " --histories {input.histories:q} --table {output.table:q} --plot {output.plot:q}"
        " --curves {output.curves:q} 2> {log:q}"


def comparison_paths(dataset):
    """{table, groups, plot} of a dataset, or {} when it has no model to compare."""
    if not models_of(dataset):
        return {}
    return {key: path.format(dataset=dataset) for key, path in COMPARISON.items()}


def sweep_paths(dataset, sweep):
    return {
        key: path.format(dataset=dataset, sweep=sweep) for key, path in SWEEP.items()
    }


@register_targets
def compare_targets():
    targets = []
    for dataset in DATASETS:
        targets += comparison_paths(dataset).values()
        for sweep in sweeps_of(dataset):
            targets += sweep_paths(dataset, sweep).values()
    return targets
