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
    group:
        small_job_group
    conda:
        CONDA_ENV
    # The model registry says how many threads a type trains on (a NumPy model: one BLAS
    # thread) and whether it can use a GPU; the cluster needs are the model's `cluster:`.
    threads: lambda wc: train_needs(wc).threads
    resources:
        local_gpu_slots=local_gpu_slots,
        gpu=cluster_gpus,
        gpu_model=cluster_gpu_model,
        runtime=cluster_runtime,
        mem_mb=cluster_mem_mb,
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
