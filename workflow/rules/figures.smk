# Figures: one rule per figure family, each figure a target of its own:
#   results/{dataset}/figures/{model}/{figure}.png   (a model's figures: maskflow.layout.model_figures)
# A rule's inputs are exactly what its family reads, and its spec only the `figures:` settings
# it reads, so deleting one figure or editing one setting reruns only the figures concerned.


# Two helpers of these rules alone, lambdas (Snakemake's linter keeps rule files free of
# functions): a figure's path for `snakemake --report`, captioned by its family; and a params
# function giving a figure job the model's name, its class names and only the `figures:`
# settings (`keys`) its family reads (maskflow.figures.command.FigureJob.setting).
figure_output = lambda figure, family: report(
    layout.FIGURE.replace("{figure}", figure),
    category="Models",
    subcategory="{model}",
    caption=f"../report/figure_{family}.rst",
    labels={"model": "{model}", "figure": figure},
)
figure_spec = lambda *keys: lambda wildcards: as_json(
    {
        "name": wildcards.model,
        "classes": DATASETS[wildcards.dataset]["classes"],
        "figures": {key: named(EVALUATED, wildcards)["figures"][key] for key in keys},
    }
)


rule figure_confusion_matrix:
    input:
        metrics=layout.MODEL["metrics"],
    output:
        figure_output("confusion_matrix_{split}", "confusion_matrix"),
    log:
        "results/{dataset}/logs/figures/{model}/confusion_matrix_{split}.log",
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec(),
    shell:
        "python -m maskflow figure confusion_matrix_{wildcards.split} --metrics {input.metrics:q}"
        " --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_per_class_accuracy:
    input:
        metrics=layout.MODEL["metrics"],
    output:
        figure_output("per_class_accuracy", "per_class_accuracy"),
    log:
        "results/{dataset}/logs/figures/{model}/per_class_accuracy.log",
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec(),
    shell:
        "python -m maskflow figure per_class_accuracy --metrics {input.metrics:q}"
        " --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_learning_curves:
    input:
        history=layout.MODEL["history"],
        metrics=layout.MODEL["metrics"],
    output:
        figure_output("learning_curves", "learning_curves"),
    log:
        "results/{dataset}/logs/figures/{model}/learning_curves.log",
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec(),
    shell:
        "python -m maskflow figure learning_curves --history {input.history:q} --metrics {input.metrics:q}"
        " --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_misclassified:
    input:
        predictions=layout.MODEL["predictions"],
        cache=layout.DATA["checksums"],
    output:
        figure_output("misclassified_{split}", "misclassified"),
    log:
        "results/{dataset}/logs/figures/{model}/misclassified_{split}.log",
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec("misclassified"),
        cache_dir=folder_of("cache"),
    shell:
        "python -m maskflow figure misclassified_{wildcards.split} --predictions {input.predictions:q}"
        " --cache-dir {params.cache_dir:q} --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_overlays:
    input:
        predictions=layout.MODEL["predictions"],
        raw_dir=layout.DATA["raw"],
        annotations=layout.DATA["annotations"],
    output:
        figure_output("overlays_{split}", "overlays"),
    log:
        "results/{dataset}/logs/figures/{model}/overlays_{split}.log",
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec("overlays"),
    shell:
        "python -m maskflow figure overlays_{wildcards.split} --predictions {input.predictions:q}"
        " --raw-dir {input.raw_dir:q} --annotations {input.annotations:q}"
        " --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_saliency:
    input:
        explanations=layout.MODEL["explanations"],
    output:
        figure_output("saliency", "saliency"),
    log:
        "results/{dataset}/logs/figures/{model}/saliency.log",
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec("saliency_per_class"),
    shell:
        "python -m maskflow figure saliency --explanations {input.explanations:q}"
        " --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_filters:
    input:
        explanations=layout.MODEL["explanations"],
    output:
        figure_output("filters", "filters"),
    log:
        "results/{dataset}/logs/figures/{model}/filters.log",
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec(),
    shell:
        "python -m maskflow figure filters --explanations {input.explanations:q}"
        " --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_filter_maximization:
    input:
        explanations=layout.MODEL["explanations"],
    output:
        figure_output("filter_maximization", "filter_maximization"),
    log:
        "results/{dataset}/logs/figures/{model}/filter_maximization.log",
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec(),
    shell:
        "python -m maskflow figure filter_maximization --explanations {input.explanations:q}"
        " --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule figure_latent:
    input:
        latent=layout.MODEL["latent"],
        checkpoint=layout.MODEL["checkpoint"],
        cache=layout.DATA["checksums"],
    output:
        figure_output("latent", "latent"),
    log:
        "results/{dataset}/logs/figures/{model}/latent.log",
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec("tsne_perplexity"),
        cache_dir=folder_of("cache"),
    shell:
        "python -m maskflow figure latent --latent {input.latent:q} --checkpoint {input.checkpoint:q}"
        " --cache-dir {params.cache_dir:q} --spec {params.spec:q} --out {output:q} 2> {log:q}"
