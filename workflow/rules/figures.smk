# Figures: one rule per figure family, each figure a target of its own:
#   results/{dataset}/figures/{model}/{figure}.png   (a model's figures: maskflow.layout.model_figures)
# A rule's inputs are exactly what its family reads, so deleting one figure reruns one job.


rule figure_confusion_matrix:
    input:
        metrics=layout.MODEL["metrics"],
    output:
        figure_output("confusion_matrix_{split}", "confusion_matrix"),
    log:
        figure_log("confusion_matrix_{split}"),
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
    shell:
        figure_shell("confusion_matrix_{wildcards.split}", "metrics")


rule figure_per_class_accuracy:
    input:
        metrics=layout.MODEL["metrics"],
    output:
        figure_output("per_class_accuracy", "per_class_accuracy"),
    log:
        figure_log("per_class_accuracy"),
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
    shell:
        figure_shell("per_class_accuracy", "metrics")


rule figure_learning_curves:
    input:
        history=layout.MODEL["history"],
        metrics=layout.MODEL["metrics"],
    output:
        figure_output("learning_curves", "learning_curves"),
    log:
        figure_log("learning_curves"),
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
    shell:
        figure_shell("learning_curves", "history", "metrics")


rule figure_misclassified:
    input:
        predictions=layout.MODEL["predictions"],
        cache=layout.DATA["checksums"],
    output:
        figure_output("misclassified_{split}", "misclassified"),
    log:
        figure_log("misclassified_{split}"),
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
        cache_dir=folder_of("cache"),
    shell:
        figure_shell(
            "misclassified_{wildcards.split}", "predictions", dirs=["cache_dir"]
        )


rule figure_overlays:
    input:
        predictions=layout.MODEL["predictions"],
        raw_dir=layout.DATA["raw"],
        annotations=layout.DATA["annotations"],
    output:
        figure_output("overlays_{split}", "overlays"),
    log:
        figure_log("overlays_{split}"),
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
    shell:
        figure_shell(
            "overlays_{wildcards.split}", "predictions", "raw_dir", "annotations"
        )


rule figure_saliency:
    input:
        explanations=layout.MODEL["explanations"],
    output:
        figure_output("saliency", "saliency"),
    log:
        figure_log("saliency"),
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
    shell:
        figure_shell("saliency", "explanations")


rule figure_filters:
    input:
        explanations=layout.MODEL["explanations"],
    output:
        figure_output("filters", "filters"),
    log:
        figure_log("filters"),
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
    shell:
        figure_shell("filters", "explanations")


rule figure_filter_maximization:
    input:
        explanations=layout.MODEL["explanations"],
    output:
        figure_output("filter_maximization", "filter_maximization"),
    log:
        figure_log("filter_maximization"),
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
    shell:
        figure_shell("filter_maximization", "explanations")


rule figure_latent:
    input:
        latent=layout.MODEL["latent"],
        checkpoint=layout.MODEL["checkpoint"],
        cache=layout.DATA["checksums"],
    output:
        figure_output("latent", "latent"),
    log:
        figure_log("latent"),
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    params:
        spec=figure_spec,
        cache_dir=folder_of("cache"),
    shell:
        figure_shell("latent", "latent", "checkpoint", dirs=["cache_dir"])
