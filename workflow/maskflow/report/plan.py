"""The report's plan: what results/report.html shows and where each file is.

Built by Snakemake when it reads the workflow (workflow/rules/report.smk) from the resolved
config and maskflow.layout, written to results/report_plan.json by the `report_plan` rule, and
read by `maskflow report` (maskflow.report.build). Its files are the report rule's inputs
(`plan_paths`), so the report is always the last job. No torch, pandas or matplotlib here.

    plan = build_plan(resolved, config, configfiles=["config.yaml"], repo_dir=".")
    plan_paths(plan)          # every file the report reads
"""

from __future__ import annotations

from collections.abc import Iterator

from maskflow import layout
from maskflow.config import SPLITS
from maskflow.io.hashing import fingerprint

# Keys of the plan whose string values are file paths; under FILE_MAPS, every value is one.
PATH_KEYS = {"quality", "counts", "manifest", "metrics", "architecture", "table", "groups", "plot", "curves"}
FILE_MAPS = {"stats_figures", "figures"}


def split_settings(annotations: dict, split: dict | None) -> dict | None:
    """The split settings that apply: a split the data's files give (`files: {test: test.csv}`)
    is shown as given, without the fraction the random split would have used for it."""
    files = annotations.get("files")
    given = {name: path for name, path in files.items() if name in SPLITS} if isinstance(files, dict) else {}
    if split is None or not given:
        return split
    shown = {key: value for key, value in split.items() if key.removesuffix("_fraction") not in given}
    return {**{name: f"given by {path}" for name, path in given.items()}, **shown}


def dataset_plan(experiment: layout.Experiment, dataset: str) -> dict:
    """Everything the report shows about one dataset, as paths (maskflow.layout owns them)."""
    spec = experiment.datasets[dataset]
    return {
        "name": dataset,
        "description": spec.get("description", ""),
        "source": spec["source"],
        "annotations_format": spec["annotations"]["format"],
        "classes": spec["classes"],
        "split": split_settings(spec["annotations"], spec.get("split")),
        "preprocess": spec.get("preprocess"),
        "baseline": spec.get("baseline"),
        "quality": layout.DATA["quality"].format(dataset=dataset),
        "counts": layout.DATA["counts"].format(dataset=dataset),
        "manifest": layout.DATA["manifest"].format(dataset=dataset),
        "stats_figures": {
            figure: layout.DATA["stats_figure"].format(dataset=dataset, figure=figure)
            for figure in layout.STATS_FIGURES
        },
        "comparison": experiment.comparison_paths(dataset),
        # A sweep is shown as its table and plots; its members get sections of their own only when
        # the sweep's `figures:` lists them.
        "sweeps": [
            {
                "name": sweep,
                "members": len(experiment.sweep_models(dataset, sweep)),
                "shown": experiment.sweeps.get(sweep, {}).get("figures", []),
                **experiment.sweep_paths(dataset, sweep),
            }
            for sweep in experiment.sweeps_of(dataset)
        ],
        "models": [
            {
                "name": name,
                "metrics": layout.MODEL["metrics"].format(dataset=dataset, model=name),
                "figures": experiment.figure_paths(name),
                # from the config: training strips descriptions (editing one retrains nothing), so
                # a trained model's metrics.json carries none
                "description": experiment.evaluated[name].get("description") or "",
                # a trained model's per-layer table (ensembles have none of their own)
                **(
                    {"architecture": layout.MODEL["architecture"].format(dataset=dataset, model=name)}
                    if name in experiment.models
                    else {}
                ),
            }
            for name in experiment.models_of(dataset)
            if experiment.shown(name)
        ],
    }


def reproduce_command(configfiles: list[str]) -> str:
    """The command that makes this report again."""
    return "snakemake --cores all" + "".join(f" --configfile {path}" for path in configfiles) + " all"


def build_plan(resolved: dict, config: dict, configfiles: list, repo_dir: str) -> dict:
    """The plan of one run: `resolved` from maskflow.config.load_and_check, `config` as given."""
    experiment = layout.Experiment(resolved)
    files = [str(path) for path in configfiles]
    datasets = [dataset_plan(experiment, dataset) for dataset in experiment.datasets]
    if (resolved.get("tracking") or {}).get("enabled"):
        # the run history's section (maskflow.report.history), from the tracking step's files
        for entry in datasets:
            if entry["models"]:
                entry["history"] = {
                    "table": layout.TRACKING["history"].format(dataset=entry["name"]),
                    "plot": layout.TRACKING["plot"].format(dataset=entry["name"]),
                }
    return {
        "title": resolved["report"].get("title", "maskflow report"),
        "max_models_detailed": resolved["report"].get("max_models_detailed"),
        "seed": resolved["seed"],
        "config_hash": fingerprint(config),
        "configfiles": files,
        "command": reproduce_command(files),
        "repo_dir": str(repo_dir),
        "datasets": datasets,
    }


def _paths(value) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PATH_KEYS and isinstance(item, str):
                yield item
            elif key in FILE_MAPS:
                yield from item.values()
            else:
                yield from _paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item)


def plan_paths(plan: dict) -> list[str]:
    """Every file the report reads (the report rule's inputs), sorted, each once."""
    return sorted(set(_paths(plan["datasets"])))
