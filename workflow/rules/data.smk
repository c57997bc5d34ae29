# The data stage: raw files -> validated, split annotations -> cached uint8 arrays -> statistics.


rule fetch:
    output:
        raw=directory(layout.DATA["raw"]),
        manifest=layout.DATA["manifest"],
    log:
        "results/{dataset}/logs/fetch.log",
    conda:
        CONDA_ENV
    # The command takes its threads from OMP_NUM_THREADS, which Snakemake sets to `threads:` for
    # every job: a --threads in the command would be a code change that refetches (and so
    # retrains) every built tree, for a setting that changes no byte.
    threads: THREADS["fetch"]
    params:
        source=dataset_slice("source"),
    shell:
        "python -m maskflow fetch --dataset {wildcards.dataset} --spec {params.source:q}"
        " --raw-dir {output.raw:q} --manifest {output.manifest:q} 2> {log:q}"


rule validate:
    input:
        raw=layout.DATA["raw"],
        manifest=layout.DATA["manifest"],
    output:
        rows=layout.DATA["validated"],
        quality=report(
            layout.DATA["quality"],
            category="Data",
            caption="../report/quality.rst",
        ),
    log:
        "results/{dataset}/logs/validate.log",
    conda:
        CONDA_ENV
    params:
        spec=dataset_slice("annotations", "classes"),
    shell:
        "python -m maskflow validate --dataset {wildcards.dataset} --raw-dir {input.raw:q} --spec {params.spec:q}"
        " --out {output.rows:q} --quality {output.quality:q} 2> {log:q}"


rule split:
    input:
        rows=layout.DATA["validated"],
    output:
        layout.DATA["annotations"],
    log:
        "results/{dataset}/logs/split.log",
    conda:
        CONDA_ENV
    params:
        spec=dataset_slice("split", "classes"),
    shell:
        "python -m maskflow split --rows {input.rows:q} --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule cache:
    input:
        raw=layout.DATA["raw"],
        annotations=layout.DATA["annotations"],
    output:
        layout.cache_files("{dataset}"),
        checksums=layout.DATA["checksums"],
    log:
        "results/{dataset}/logs/cache.log",
    benchmark:
        "results/{dataset}/benchmarks/cache.tsv"
    conda:
        CONDA_ENV
    threads: THREADS["cache"]
    params:
        spec=dataset_slice("preprocess", "annotations", "classes"),
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "python -m maskflow cache --raw-dir {input.raw:q} --annotations {input.annotations:q}"
        " --spec {params.spec:q} --out-dir {params.out_dir:q} --threads {threads} 2> {log:q}"


rule class_stats:
    input:
        cache=layout.cache_files("{dataset}"),
        checksums=layout.DATA["checksums"],
    output:
        counts=report(
            layout.DATA["counts"],
            category="Data",
            caption="../report/class_counts.rst",
        ),
        normalization=layout.DATA["normalization"],
    log:
        "results/{dataset}/logs/class_stats.log",
    conda:
        CONDA_ENV
    params:
        spec=dataset_slice("classes"),
        cache_dir=folder_of("cache"),
    shell:
        "python -m maskflow stats --cache-dir {params.cache_dir:q} --spec {params.spec:q}"
        " --counts {output.counts:q} --normalization {output.normalization:q} 2> {log:q}"


rule stats_figure:
    input:
        cache=layout.cache_files("{dataset}"),
        counts=layout.DATA["counts"],
    output:
        report(
            layout.DATA["stats_figure"],
            category="Data",
            caption="../report/stats_figure.rst",
        ),
    log:
        "results/{dataset}/logs/stats_{figure}.log",
    wildcard_constraints:
        figure="|".join(layout.STATS_FIGURES),
    conda:
        CONDA_ENV
    params:
        spec=dataset_slice("classes"),
        cache_dir=folder_of("cache"),
    shell:
        "python -m maskflow stats --cache-dir {params.cache_dir:q} --spec {params.spec:q}"
        " --counts {input.counts:q} --figure {wildcards.figure} --out {output:q} 2> {log:q}"
