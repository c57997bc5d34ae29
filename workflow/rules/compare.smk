# Comparison of every model of a dataset (with McNemar tests against its baseline), and one
# table + plot + overlaid learning curves per sweep.
rule compare:
    input:
        metrics=lambda wc: EXPERIMENT.model_files(
            wc.dataset, EXPERIMENT.models_of(wc.dataset), "metrics"
        ),
        predictions=lambda wc: EXPERIMENT.model_files(
            wc.dataset, EXPERIMENT.models_of(wc.dataset), "predictions", split="test"
        ),
        # the same lists (and the descriptions) as files the command reads (arguments.smk)
        metrics_list=arguments.path_of("compare_metrics"),
        predictions_list=arguments.path_of("compare_predictions"),
        descriptions=arguments.path_of("compare_descriptions"),
    output:
        table=report(
            layout.COMPARISON["table"],
            category="Comparison",
            caption="../report/comparison.rst",
        ),
        groups=report(
            layout.COMPARISON["groups"],
            category="Comparison",
            caption="../report/comparison_groups.rst",
        ),
        plot=report(
            layout.COMPARISON["plot"],
            category="Comparison",
            caption="../report/comparison.rst",
        ),
    log:
        "results/{dataset}/logs/compare.log",
    conda:
        CONDA_ENV
    params:
        baseline=lambda wc: DATASETS[wc.dataset].get("baseline") or "",
    # `--baseline=`: a dataset without a baseline passes an empty value, not a missing one
    shell:
        "python -m maskflow compare --dataset {wildcards.dataset} --baseline={params.baseline:q}"
        " --descriptions @{input.descriptions:q}"
        " --metrics @{input.metrics_list:q} --predictions @{input.predictions_list:q}"
        " --table {output.table:q} --groups {output.groups:q} --plot {output.plot:q} 2> {log:q}"


rule sweep:
    input:
        metrics=lambda wc: EXPERIMENT.model_files(
            wc.dataset, EXPERIMENT.sweep_models(wc.dataset, wc.sweep), "metrics"
        ),
        histories=lambda wc: EXPERIMENT.model_files(
            wc.dataset, EXPERIMENT.sweep_models(wc.dataset, wc.sweep), "history"
        ),
        metrics_list=arguments.path_of("sweep_{sweep}_metrics"),
        histories_list=arguments.path_of("sweep_{sweep}_history"),
    output:
        table=report(
            layout.SWEEP["table"], category="Sweeps", caption="../report/sweep.rst"
        ),
        plot=report(
            layout.SWEEP["plot"], category="Sweeps", caption="../report/sweep.rst"
        ),
        curves=report(
            layout.SWEEP["curves"], category="Sweeps", caption="../report/sweep.rst"
        ),
    log:
        "results/{dataset}/logs/sweep_{sweep}.log",
    wildcard_constraints:
        sweep=names_regex(
            {spec["sweep"] for spec in MODELS.values() if spec.get("sweep")}
        ),
    conda:
        CONDA_ENV
    shell:
        "python -m maskflow sweep --sweep {wildcards.sweep} --metrics @{input.metrics_list:q}"
        " --histories @{input.histories_list:q} --table {output.table:q} --plot {output.plot:q}"
        " --curves {output.curves:q} 2> {log:q}"
