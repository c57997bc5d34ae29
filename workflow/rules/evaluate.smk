# Evaluation: predictions on every split and metrics, for models and ensembles alike.
rule evaluate_model:
    input:
        cache=lambda wc: cache_files(wc.dataset),
        checkpoint="results/{dataset}/models/{model}/checkpoint.pt",
        normalization="results/{dataset}/stats/normalization.json",
    output:
        metrics="results/{dataset}/models/{model}/metrics.json",
        predictions=expand(
            "results/{{dataset}}/models/{{model}}/predictions_{split}.csv",
            split=SPLITS,
        ),
    log:
        "results/{dataset}/logs/evaluate/{model}.log",
    wildcard_constraints:
        model=_names_regex(MODELS),
    conda:
        CONDA_ENV
    threads: THREADS["evaluate"]
    params:
        cache_dir=folder_of("cache"),
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
    shell:
        "python -m maskflow evaluate --checkpoint {input.checkpoint:q} --model {wildcards.model} --cache-dir {params.cache_dir:q}"
        " --normalization {input.normalization:q} --out-dir {params.out_dir:q}"
        " --metrics {output.metrics:q} --threads {threads} 2> {log:q}"


rule evaluate_ensemble:
    input:
        cache=lambda wc: cache_files(wc.dataset, ("train",)),
        members=ensemble_member_files,
    output:
        metrics="results/{dataset}/models/{model}/metrics.json",
        predictions=expand(
            "results/{{dataset}}/models/{{model}}/predictions_{split}.csv",
            split=SPLITS,
        ),
    log:
        "results/{dataset}/logs/evaluate/{model}.log",
    wildcard_constraints:
        model=_names_regex(ENSEMBLES),
    conda:
        CONDA_ENV
    params:
        spec=model_spec,
        models_dir="results/{dataset}/models",
        cache_dir=folder_of("cache"),
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
    shell:
        "python -m maskflow evaluate --ensemble {params.spec:q} --models-dir {params.models_dir:q}"
        " --cache-dir {params.cache_dir:q} --out-dir {params.out_dir:q}"
        " --metrics {output.metrics:q} 2> {log:q}"
