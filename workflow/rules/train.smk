# Training: one job per resolved model, reading only the cached arrays.


rule train:
    input:
        # The cache's checksums stand for its files: they are written last by the same job,
        # and every loader checks each file against them (maskflow.data.integrity). One input
        # instead of six keeps planning a sweep of hundreds of models short.
        cache=layout.DATA["checksums"],
        normalization=layout.DATA["normalization"],
    output:
        checkpoint=layout.MODEL["checkpoint"],
        history=report(
            layout.MODEL["history"],
            category="Models",
            subcategory="{model}",
            caption="../report/history.rst",
        ),
        latent=layout.MODEL["latent"],
        # the per-layer table (maskflow.models.summary)
        architecture=layout.MODEL["architecture"],
    log:
        "results/{dataset}/logs/train/{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/train/{model}.tsv"
    wildcard_constraints:
        model=TRAINED,
    conda:
        CONDA_ENV
    # A NumPy model trains on one BLAS thread (maskflow.training.numpy_mlp): it holds one core.
    threads: lambda wc: 1 if named(MODELS, wc)["arch"]["type"] == "numpy_mlp" else THREADS["train"]
    resources:
        gpu=gpu_request,
    params:
        spec=train_spec,
        classes=lambda wc: as_json(DATASETS[wc.dataset]["classes"]),
        cache_dir=folder_of("cache"),
        # Resume state sits outside the declared outputs: Snakemake deletes those when a job
        # fails (SIGTERM from a cluster time limit), and the retry must find it.
        resume=layout.MODEL["resume"],
    shell:
        "python -m maskflow train --spec {params.spec:q} --classes {params.classes:q}"
        " --cache-dir {params.cache_dir:q} --normalization {input.normalization:q}"
        " --checkpoint {output.checkpoint:q} --history {output.history:q}"
        " --latent {output.latent:q} --resume {params.resume:q}"
        " --architecture {output.architecture:q} --threads {threads} 2> {log:q}"
