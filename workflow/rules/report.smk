# The final report: one self-contained HTML file (results/report.html). Its inputs are every
# figure, table and metrics file of the experiment, so it is always the last job.
from maskflow.config import fingerprint


def report_dataset(dataset):
    """Everything the report shows about one dataset, as paths (the rules above own them)."""
    spec = DATASETS[dataset]
    return {
        "name": dataset,
        "description": spec.get("description", ""),
        "source": spec["source"],
        "annotations_format": spec["annotations"]["format"],
        "classes": spec["classes"],
        "split": spec.get("split"),
        "preprocess": spec.get("preprocess"),
        "baseline": spec.get("baseline"),
        "quality": f"results/{dataset}/data/quality.json",
        "counts": f"results/{dataset}/stats/class_counts.csv",
        "manifest": f"resources/{dataset}/manifest.json",
        "stats_figures": {
            figure: f"results/{dataset}/stats/{figure}.png" for figure in STATS_FIGURES
        },
        "comparison": comparison_paths(dataset),
        "sweeps": [
            {"name": sweep, **sweep_paths(dataset, sweep)}
            for sweep in sweeps_of(dataset)
        ],
        "models": [
            {
                "name": name,
                "metrics": f"results/{dataset}/models/{name}/metrics.json",
                "figures": figure_paths(name),
            }
            for name in models_of(dataset)
        ],
    }


def reproduce_command():
    files = workflow.overwrite_configfiles or workflow.configfiles
    return (
        "snakemake --cores all"
        + "".join(f" --configfile {path}" for path in files)
        + " all"
    )


REPORT_PLAN = {
    "title": MF["report"].get("title", "maskflow report"),
    "max_models_detailed": MF["report"].get("max_models_detailed"),
    "seed": MF["seed"],
    "config_hash": fingerprint(config),
    "configfiles": [
        str(path) for path in workflow.overwrite_configfiles or workflow.configfiles
    ],
    "command": reproduce_command(),
    "repo_dir": workflow.basedir,
    "datasets": [report_dataset(dataset) for dataset in DATASETS],
}


def plan_paths(value):
    """Every file path in the plan (strings under known path keys), for the rule's input."""
    keys = {
        "quality",
        "counts",
        "manifest",
        "metrics",
        "table",
        "groups",
        "plot",
        "curves",
    }
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys and isinstance(item, str):
                yield item
            elif key in ("stats_figures", "figures"):
                yield from item.values()
            else:
                yield from plan_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from plan_paths(item)


rule report:
    input:
        sorted(set(plan_paths(REPORT_PLAN["datasets"]))),
    output:
        report(
            "results/report.html",
            category="Report",
            caption="../report/report_html.rst",
        ),
    log:
        "results/logs/report.log",
    conda:
        CONDA_ENV
    params:
        plan=as_json(REPORT_PLAN),
    shell:
        "{MASKFLOW} report --plan {params.plan:q} --out {output:q} 2> {log:q}"


@register_targets
def report_targets():
    return ["results/report.html"]
