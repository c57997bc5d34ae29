# Run history (docs/history.md): each newly trained model (and ensemble) becomes one MLflow run in
# the store `tracking.uri` names, once, whatever Snakemake reruns (maskflow.tracking). The store is
# created and migrated by one job before any logging job (MLflow's first creation of a SQLite
# file is not safe from several processes at once). Nothing here imports MLflow: the jobs do.
import uuid

TRACKING = MF["tracking"]

# Which runs came from this invocation (`maskflow history` marks them). An environment variable,
# not a param: it must not make Snakemake rerun anything. Jobs inherit it.
os.environ.setdefault("MASKFLOW_INVOCATION", uuid.uuid4().hex)


def tracking_targets():
    """What `rule all` asks of the run history: every model's marker (so that a lost or missing one,
    a logging that failed, is made again by the next run) and each dataset's history files.
    """
    if not TRACKING["enabled"]:
        return []
    targets = []
    for dataset in DATASETS:
        models = EXPERIMENT.models_of(dataset)
        targets += [
            layout.TRACKING["run"].format(dataset=dataset, model=name)
            for name in models
        ]
        if models:
            targets += [
                layout.TRACKING[key].format(dataset=dataset)
                for key in ("history", "plot")
            ]
    return targets


def tracking_settings(dataset=None):
    """The tracking: block a job needs, with the dataset's experiment name filled in."""
    settings = {key: TRACKING[key] for key in ("uri", "artifacts")}
    if dataset is not None:
        settings["experiment"] = TRACKING["experiment"].format(dataset=dataset)
    return settings


def tracked_base(name):
    """The model a sweep member or a variant was derived from ('' for none)."""
    spec = EVALUATED[name]
    if spec.get("sweep"):
        return config["sweeps"][spec["sweep"]].get("base", "")
    return (config["models"].get(spec.get("group") or name) or {}).get("base", "")


def tracked_files(wildcards):
    """What one run is read from and which files it copies as artifacts, folder by folder."""
    spec = named(EVALUATED, wildcards)
    ds, name = wildcards.dataset, wildcards.model
    trained = name in MODELS
    path = lambda key: layout.MODEL[key].format(dataset=ds, model=name)
    copy = set(TRACKING["copy"])
    artifacts = {
        "": [
            path(key)
            for key in ("metrics", "history", "architecture")
            if key in copy and (trained or key == "metrics")
        ]
    }
    if "figures" in copy:
        artifacts["figures"] = list(EXPERIMENT.figure_paths(name).values())
    if trained and TRACKING["checkpoints"]:
        artifacts["checkpoint"] = [path("checkpoint")]
    members = (
        EXPERIMENT.model_files(ds, spec["members"], "metrics") if not trained else []
    )
    return {
        "metrics": path("metrics"),
        "history": path("history") if trained else None,
        "artifacts": artifacts,
        "members": members,
    }


def track_inputs(wildcards):
    files = tracked_files(wildcards)
    listed = [
        files["metrics"],
        *files["members"],
        *(p for paths in files["artifacts"].values() for p in paths),
    ]
    if files["history"]:
        listed.append(files["history"])
    return sorted(set(listed))


rule track_store:
    output:
        layout.TRACKING["store"],
    log:
        "results/logs/track_store.log",
    params:
        settings=as_json(tracking_settings()),
    shell:
        "python -m maskflow track store --settings {params.settings:q} --out {output:q} 2> {log:q}"


rule track:
    input:
        # ancient: a store marker made again (results/ deleted) does not make every model log again
        store=ancient(layout.TRACKING["store"]),
        files=track_inputs,
    output:
        layout.TRACKING["run"],
    log:
        "results/{dataset}/logs/track/{model}.log",
    benchmark:
        "results/{dataset}/benchmarks/track/{model}.tsv"
    wildcard_constraints:
        model=ANY_EVALUATED,
    params:
        settings=lambda wc: as_json(
            {
                **tracking_settings(wc.dataset),
                "base": tracked_base(wc.model),
                "repo_dir": workflow.basedir,
            }
        ),
        files=lambda wc: as_json(tracked_files(wc)),
    shell:
        "python -m maskflow track run --settings {params.settings:q} --files {params.files:q}"
        " --out {output:q} 2> {log:q}"


rule track_history:
    input:
        store=ancient(layout.TRACKING["store"]),
        runs=lambda wc: [
            layout.TRACKING["run"].format(dataset=wc.dataset, model=name)
            for name in EXPERIMENT.models_of(wc.dataset)
        ],
    output:
        table=layout.TRACKING["history"],
        plot=layout.TRACKING["plot"],
    log:
        "results/{dataset}/logs/track_history.log",
    params:
        settings=lambda wc: as_json(tracking_settings(wc.dataset)),
    shell:
        "python -m maskflow track summary --dataset {wildcards.dataset} --settings {params.settings:q}"
        " --out {output.table:q} --plot {output.plot:q} 2> {log:q}"
