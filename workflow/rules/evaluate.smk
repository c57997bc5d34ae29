# Evaluation: predictions on every split and metrics, for models and ensembles alike; a model's
# evaluation also writes what its saliency and convolution figures plot (explanations.npz), since
# it has the model loaded and those figure jobs then need no torch.


rule evaluate_model:
    input:
        cache=layout.DATA["checksums"],  # stands for the cache files (train.smk)
        checkpoint=layout.MODEL["checkpoint"],
        normalization=layout.DATA["normalization"],
    output:
        metrics=layout.MODEL["metrics"],
        predictions=[
            layout.MODEL["predictions"].replace("{split}", split) for split in SPLITS
        ],
        explanations=layout.MODEL["explanations"],
    log:
        "results/{dataset}/logs/evaluate/{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate/{model}.tsv"
    wildcard_constraints:
        model=TRAINED,
    # On a cluster, a CPU model's evaluation travels with its training (common.smk).
    group:
        small_job_group
    conda:
        CONDA_ENV
    threads: THREADS["evaluate"]
    # The model's `cluster: evaluate` needs (resources.smk); no GPU anywhere.
    resources:
        runtime=evaluate_runtime,
        mem_mb=evaluate_mem_mb,
    params:
        cache_dir=folder_of("cache"),
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
    shell:
        "python -m maskflow evaluate --checkpoint {input.checkpoint:q} --model {wildcards.model} --cache-dir {params.cache_dir:q}"
        " --normalization {input.normalization:q} --out-dir {params.out_dir:q}"
        " --metrics {output.metrics:q} --explanations {output.explanations:q} --threads {threads} 2> {log:q}"


rule evaluate_ensemble:
    input:
        cache=layout.DATA["checksums"],
        members=ensemble_member_files,
    output:
        metrics=layout.MODEL["metrics"],
        predictions=[
            layout.MODEL["predictions"].replace("{split}", split) for split in SPLITS
        ],
    log:
        "results/{dataset}/logs/evaluate/{model}.log",
    wildcard_constraints:
        model=names_regex(ENSEMBLES),
    conda:
        CONDA_ENV
    params:
        spec=model_spec,
        models_dir=lambda wc, output: os.path.dirname(os.path.dirname(output.metrics)),
        cache_dir=folder_of("cache"),
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
    shell:
        "python -m maskflow evaluate --ensemble {params.spec:q} --models-dir {params.models_dir:q}"
        " --cache-dir {params.cache_dir:q} --out-dir {params.out_dir:q}"
        " --metrics {output.metrics:q} 2> {log:q}"
