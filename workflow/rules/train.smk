# Training: one job per resolved model, reading only the cached arrays.
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
        cache_dir=folder_of("cache"),
        # Resume state sits outside the declared outputs: Snakemake deletes those when a job
        # fails (SIGTERM from a cluster time limit), and the retry must find it.
        resume="results/{dataset}/models/{model}/resume.pt",
    shell:
        "python -m maskflow train --spec {params.spec:q} --classes {params.classes:q}"
        " --cache-dir {params.cache_dir:q} --normalization {input.normalization:q}"
        " --checkpoint {output.checkpoint:q} --history {output.history:q}"
        " --latent {output.latent:q} --resume {params.resume:q} --threads {threads} 2> {log:q}"
