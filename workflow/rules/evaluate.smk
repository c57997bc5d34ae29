# Evaluation: predictions on every split and metrics, for models and ensembles alike.


rule evaluate_model:
    input:
        cache=lambda wc: cache_files(wc.dataset),
        checkpoint="results/{dataset}/models/{model}/checkpoint.pt",
        normalization="results/{dataset}/stats/normalization.json",
    output:
        metrics="results/{dataset}/models/{model}/metrics.json",
        predictions=expand("results/{{dataset}}/models/{{model}}/predictions_{split}.csv", split=SPLITS),
    wildcard_constraints:
        model=_names_regex(MODELS),
    params:
        cache_dir="results/{dataset}/cache",
        out_dir="results/{dataset}/models/{model}",
    threads: THREADS["evaluate"]
    log:
        "results/{dataset}/logs/evaluate/{model}.log",
    shell:
        "maskflow evaluate --checkpoint {input.checkpoint:q} --cache-dir {params.cache_dir:q}"
        " --normalization {input.normalization:q} --out-dir {params.out_dir:q}"
        " --metrics {output.metrics:q} --threads {threads} 2> {log:q}"


rule evaluate_ensemble:
    input:
        cache=lambda wc: cache_files(wc.dataset),
        members=lambda wc: expand(
            "results/{dataset}/models/{member}/predictions_{split}.csv",
            dataset=wc.dataset,
            member=ENSEMBLES[wc.model]["members"],
            split=SPLITS,
        ),
    output:
        metrics="results/{dataset}/models/{model}/metrics.json",
        predictions=expand("results/{{dataset}}/models/{{model}}/predictions_{split}.csv", split=SPLITS),
    wildcard_constraints:
        model=_names_regex(ENSEMBLES),
    params:
        spec=model_spec,
        models_dir="results/{dataset}/models",
        cache_dir="results/{dataset}/cache",
        out_dir="results/{dataset}/models/{model}",
    log:
        "results/{dataset}/logs/evaluate/{model}.log",
    shell:
        "maskflow evaluate --ensemble {params.spec:q} --models-dir {params.models_dir:q}"
        " --cache-dir {params.cache_dir:q} --out-dir {params.out_dir:q}"
        " --metrics {output.metrics:q} 2> {log:q}"


@register_targets
def evaluate_targets():
    return [f"results/{spec['dataset']}/models/{name}/metrics.json" for name, spec in EVALUATED.items()]
