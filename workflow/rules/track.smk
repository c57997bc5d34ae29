# Run history (docs/history.md): each newly trained model (and ensemble) becomes one MLflow run in
# the store `tracking.uri` names, once, whatever Snakemake reruns (maskflow.tracking). The store is
# created and migrated by one job before any logging job (MLflow's first creation of a SQLite
# file is not safe from several processes at once). A model's `track` job reads its files into a
# run record without MLflow; one `track_history` job per dataset builds the records of its sweep
# members itself (no job per member: maskflow.tracking.plan), imports MLflow once, logs the
# records the store does not hold yet and writes the report's history. Nothing here imports
# MLflow: the track_store and track_history jobs do.
from maskflow.tracking.plan import TrackingPlan, mark_invocation

TRACKING_PLAN = TrackingPlan(MF, config)
mark_invocation()


rule track_store:
    output:
        layout.TRACKING["store"],
    log:
        "results/logs/track_store.log",
    conda:
        CONDA_ENV
    params:
        settings=as_json(TRACKING_PLAN.settings()),
    shell:
        "python -m maskflow track store --settings {params.settings:q} --out {output:q} 2> {log:q}"


rule track:
    input:
        # ancient: a store marker made again (results/ deleted) does not make every model log again
        store=ancient(layout.TRACKING["store"]),
        files=lambda wc: TRACKING_PLAN.inputs(wc.dataset, named(EVALUATED, wc)["name"]),
    output:
        layout.TRACKING["run"],
    log:
        "results/{dataset}/logs/track/{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/track/{model}.tsv"
    wildcard_constraints:
        model=ANY_EVALUATED,
    conda:
        CONDA_ENV
    params:
        settings=lambda wc: as_json(
            {
                **TRACKING_PLAN.settings(wc.dataset),
                "base": TRACKING_PLAN.base(wc.model),
                "repo_dir": workflow.basedir,
            }
        ),
        files=lambda wc: as_json(TRACKING_PLAN.files(wc.dataset, wc.model)),
    shell:
        "python -m maskflow track run --settings {params.settings:q} --files {params.files:q}"
        " --out {output:q} 2> {log:q}"


rule track_history:
    input:
        store=ancient(layout.TRACKING["store"]),
        runs=lambda wc: TRACKING_PLAN.runs(wc.dataset),
        runs_list=arguments.path_of("track_runs"),
        # the sweep members' files, whose records this job builds (their list: members_list)
        members=lambda wc: TRACKING_PLAN.member_inputs(wc.dataset),
        members_list=arguments.path_of("track_members"),
    output:
        table=layout.TRACKING["history"],
        plot=layout.TRACKING["plot"],
    log:
        "results/{dataset}/logs/track_history.log",
    benchmark:
        "results/{dataset}/benchmarks/track_history.tsv"
    conda:
        CONDA_ENV
    params:
        settings=lambda wc: as_json(
            {**TRACKING_PLAN.settings(wc.dataset), "repo_dir": workflow.basedir}
        ),
    shell:
        "python -m maskflow track summary --dataset {wildcards.dataset} --settings {params.settings:q}"
        " --runs @{input.runs_list:q} --members @{input.members_list:q}"
        " --out {output.table:q} --plot {output.plot:q} 2> {log:q}"
