# Training: one job per resolved model, reading only the cached arrays.


def gpu_request(wildcards):
    """1 when the model must run on CUDA, so a profile's `gpu` limit keeps jobs off shared cards."""
    return 1 if MODELS[wildcards.model]["device"] == "cuda" else 0


rule train:
    input:
        cache=lambda wc: cache_files(MODELS[wc.model]["dataset"], ("train", "val")),
        normalization="results/{dataset}/stats/normalization.json",
    output:
        checkpoint="results/{dataset}/models/{model}/checkpoint.pt",
        history=report("results/{dataset}/models/{model}/history.csv", category="Models", subcategory="{model}", caption="../report/history.rst"),
        latent="results/{dataset}/models/{model}/latent.npz",
    wildcard_constraints:
        model=_names_regex(MODELS),
    params:
        spec=model_spec,
        cache_dir="results/{dataset}/cache",
        # Resume state sits outside the declared outputs: Snakemake deletes those when a job
        # fails (SIGTERM from a cluster time limit), and the retry must find it.
        resume="results/{dataset}/models/{model}/resume.pt",
    threads: THREADS["train"]
    resources:
        gpu=gpu_request,
    log:
        "results/{dataset}/logs/train/{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/train/{model}.tsv"
    shell:
        "maskflow train --spec {params.spec:q} --cache-dir {params.cache_dir:q}"
        " --normalization {input.normalization:q} --checkpoint {output.checkpoint:q}"
        " --history {output.history:q} --latent {output.latent:q} --resume {params.resume:q}"
        " --threads {threads} 2> {log:q}"


@register_targets
def train_targets():
    return [
        f"results/{spec['dataset']}/models/{name}/{output}"
        for name, spec in MODELS.items()
        for output in ("checkpoint.pt", "history.csv")
    ]
