# Training: one job per resolved model, reading only the cached arrays.

# Keys of a resolved model that do not change its training: editing them must not retrain it.
NOT_TRAINING = ("description", "figures")


def train_spec(wildcards):
    """The one resolved model this job trains, without the keys that do not affect training."""
    spec = MODELS[wildcards.model]
    return as_json(
        {key: value for key, value in spec.items() if key not in NOT_TRAINING}
    )


def gpu_request(wildcards):
    """1 when the model must run on CUDA, so a profile's `gpu` limit keeps jobs off shared cards."""
    return 1 if MODELS[wildcards.model]["device"] == "cuda" else 0


rule train:
    input:
        cache=lambda wc: cache_files(MODELS[wc.model]["dataset"], ("train", "val")),
        normalization="results/{dataset}/stats/normalization.json",
    output:
        checkpoint="results/{dataset}/models/{model}/checkpoint.pt",
        history=report(
            "results/{dataset}/models/{model}/history.csv",
            category="Models",
            subcategory="{model}",
            caption="../report/history.rst",
        ),
        latent="results/{dataset}/models/{model}/latent.npz",
    log:
        "results/{dataset}/logs/train/{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/train/{model}.tsv"
    wildcard_constraints:
        model=_names_regex(MODELS),
    conda:
        CONDA_ENV
    threads: THREADS["train"]
    resources:
        gpu=gpu_request,
    params:
        spec=train_spec,
        classes=lambda wc: as_json(DATASETS[wc.dataset]["classes"]),
        cache_dir="results/{dataset}/cache",
        # Resume state sits outside the declared outputs: Snakemake deletes those when a job
        # fails (SIGTERM from a cluster time limit), and the retry must find it.
        resume="results/{dataset}/models/{model}/resume.pt",
    shell:
        "{MASKFLOW} train --spec {params.spec:q} --classes {params.classes:q}"
        " --cache-dir {params.cache_dir:q} --normalization {input.normalization:q}"
        " --checkpoint {output.checkpoint:q} --history {output.history:q}"
        " --latent {output.latent:q} --resume {params.resume:q} --threads {threads} 2> {log:q}"


@register_targets
def train_targets():
    return [
        f"results/{spec['dataset']}/models/{name}/{output}"
        for name, spec in MODELS.items()
        for output in ("checkpoint.pt", "history.csv")
    ]
