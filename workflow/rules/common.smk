# Input functions and helpers shared by every stage. The config is validated and resolved
# once, here (maskflow.config), so rules only look things up.
import json
import os
import sys

from snakemake.exceptions import WorkflowError

# Put the Python environment that runs Snakemake first on PATH, so jobs find its `python` even
# when the venv is not activated (`.venv/bin/snakemake ...`). Jobs on a cluster inherit it; a
# conda env activated for a job still comes before it.
os.environ.update(
    PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
)
PACKAGE_DIR = os.path.join(workflow.basedir, "workflow")
sys.path.insert(0, PACKAGE_DIR)

from maskflow.runtime.openmp import choose_wait_policy  # noqa: E402

# Idle OpenMP threads sleep (passive waits) only when jobs will share cores (--cores 8 on a
# 2-core laptop); with a core each, spinning is up to 2.5x faster (maskflow.runtime.openmp).
try:
    choose_wait_policy(workflow.cores)
except WorkflowError:  # no --cores (a cluster executor with --jobs): jobs run elsewhere
    choose_wait_policy(None)

# Rules call the package as `python -m maskflow ...` with workflow/ on PYTHONPATH, so the same
# command works in the venv that runs Snakemake, in the per-rule conda env and on cluster nodes.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [PACKAGE_DIR, os.environ.get("PYTHONPATH")])
    )
)
CONDA_ENV = "../../envs/maskflow.yaml"

from maskflow.config import SPLITS, load_and_check  # noqa: E402

from maskflow.io.hashing import fingerprint
from maskflow.errors import MaskflowError  # noqa: E402
from maskflow.runtime.gpu_slots import visible_gpu_count  # noqa: E402

try:
    MF = load_and_check(
        config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
    )
except MaskflowError as error:
    raise WorkflowError(f"config: {error}") from None

# A `path` source not yet fetched whose file is absent stops here, `snakemake -n` included, with
# one line: the path and the source's `hint` (what to download, from where).
from maskflow.sources.local import missing_source  # noqa: E402

for _name, _dataset in MF["datasets"].items():
    if not os.path.exists(f"resources/{_name}/manifest.json"):
        _missing = missing_source(_name, _dataset["source"])
        if _missing:
            raise WorkflowError(_missing)

DATASETS = MF["datasets"]
MODELS = MF["models"]
ENSEMBLES = MF["ensembles"]
EVALUATED = {**MODELS, **ENSEMBLES}
THREADS = MF["threads"]
LOCAL_GPUS = visible_gpu_count()


# Light jobs run on the submitting host under a cluster executor: they take seconds, and a
# compute node may have no internet for `fetch`. Training, caching and evaluation go to the
# cluster.
localrules:
    all,
    fetch,
    class_stats,
    stats_figure,
    evaluate_ensemble,
    compare,
    sweep,
    report_plan,
    report,
    figure_confusion_matrix,
    figure_per_class_accuracy,
    figure_learning_curves,
    figure_misclassified,
    figure_overlays,
    figure_filters,
    figure_saliency,
    figure_latent,


# Dataset formats cut from photos (these have boxes and source photos to draw overlays on).
PHOTO_FORMATS = {"bbox_csv", "voc_xml", "image_folder"}
EVAL_SPLITS = ("val", "test")


def _names_regex(names):
    return "|".join(sorted(names, key=len, reverse=True)) or "(?!x)x"


wildcard_constraints:
    dataset=_names_regex(DATASETS),
    split="train|val|test",


def folder_of(key):
    """A params function: the folder of the rule's first input file named `key`, so a folder
    argument is derived from the declared files instead of written a second time."""

    def params(wildcards, input):
        files = input[key]
        return os.path.dirname(files if isinstance(files, str) else files[0])

    return params


def as_json(value):
    """Params are JSON strings: Snakemake compares them between runs (params rerun trigger)."""
    return json.dumps(value, sort_keys=True)


def dataset_slice(*keys):
    """A params function returning only the named keys of the wildcard's dataset."""

    def params(wildcards):
        dataset = DATASETS[wildcards.dataset]
        return as_json({key: dataset.get(key) for key in keys})

    return params


def model_spec(wildcards):
    """The one resolved model (or ensemble) a job is about, as JSON."""
    return as_json(EVALUATED[wildcards.model])


def models_of(dataset, kinds=("model", "ensemble")):
    return [
        name
        for name, spec in EVALUATED.items()
        if spec["dataset"] == dataset and spec["kind"] in kinds
    ]


def sweeps_of(dataset):
    return sorted(
        {
            spec["sweep"]
            for spec in MODELS.values()
            if spec.get("sweep") and spec["dataset"] == dataset
        }
    )


def cache_files(dataset, splits=SPLITS):
    return [
        f"results/{dataset}/cache/{split}_{part}"
        for split in splits
        for part in ("x.npy", "y.npy", "index.csv")
    ]


def figures_for(name):
    """Figure names rendered for one model or ensemble (each `figures/{model}/{name}.png`)."""
    spec = EVALUATED[name]
    dataset = DATASETS[spec["dataset"]]
    if spec.get("sweep"):
        # A sweep's members are compared in its own table, plot and overlaid curves; each
        # gets only the two figures that explain one point of it (others on request).
        return ["confusion_matrix_test", "learning_curves"]
    names = [f"confusion_matrix_{split}" for split in EVAL_SPLITS]
    names += ["per_class_accuracy", "misclassified_test"]
    if dataset["annotations"]["format"] in PHOTO_FORMATS:
        names.append("overlays_test")
    if spec["kind"] == "model":
        names.append("learning_curves")
        if spec["arch"]["type"] != "numpy_mlp":
            names.append("saliency")
        if spec["arch"]["type"] == "cnn":
            names.append("filters")
        if spec["train"]["latent_epochs"] or spec["arch"].get("bottleneck"):
            names.append("latent")
    return names


STATS_FIGURES = ("class_balance", "examples", "box_sizes")


def data_targets():
    targets = []
    for dataset in DATASETS:
        targets += dataset_targets(dataset)
    return targets


def dataset_targets(dataset):
    targets = [
        f"results/{dataset}/data/annotations.csv",
        f"results/{dataset}/data/quality.json",
        f"results/{dataset}/stats/class_counts.csv",
        f"results/{dataset}/stats/normalization.json",
    ]
    targets += cache_files(dataset)
    targets += [f"results/{dataset}/stats/{figure}.png" for figure in STATS_FIGURES]
    return targets


# --- train --------------------------------------------------------------------
# Keys of a resolved model that do not change its training: editing them must not retrain it.
NOT_TRAINING = ("description", "figures")


def train_spec(wildcards):
    """The one resolved model this job trains, without the keys that do not affect training."""
    spec = MODELS[wildcards.model]
    return as_json(
        {key: value for key, value in spec.items() if key not in NOT_TRAINING}
    )


def gpu_request(wildcards):
    """1 when the model will train on CUDA (asked for, or `auto` on a machine showing a GPU),
    so the local profile's `gpu` limit keeps concurrent train jobs off shared cards."""
    device = MODELS[wildcards.model]["device"]
    return 1 if device == "cuda" or (device == "auto" and LOCAL_GPUS > 0) else 0


def train_targets():
    return [
        f"results/{spec['dataset']}/models/{name}/{output}"
        for name, spec in MODELS.items()
        for output in ("checkpoint.pt", "history.csv")
    ]


# --- evaluate -----------------------------------------------------------------
def ensemble_member_files(wildcards):
    """Members' predictions (averaged) and metrics (their parameter counts and seconds add up)."""
    members = ENSEMBLES[wildcards.model]["members"]
    files = expand(
        "results/{dataset}/models/{member}/predictions_{split}.csv",
        dataset=wildcards.dataset,
        member=members,
        split=SPLITS,
    )
    return files + expand(
        "results/{dataset}/models/{member}/metrics.json",
        dataset=wildcards.dataset,
        member=members,
    )


def evaluate_targets():
    return [
        f"results/{spec['dataset']}/models/{name}/{output}"
        for name, spec in EVALUATED.items()
        for output in ["metrics.json"]
        + [f"predictions_{split}.csv" for split in SPLITS]
    ]


# --- compare ------------------------------------------------------------------
COMPARISON = {
    "table": "results/{dataset}/comparison.csv",
    "groups": "results/{dataset}/comparison_groups.csv",
    "plot": "results/{dataset}/comparison.png",
}
SWEEP = {
    "table": "results/{dataset}/sweeps/{sweep}.csv",
    "plot": "results/{dataset}/sweeps/{sweep}.png",
    "curves": "results/{dataset}/sweeps/{sweep}_curves.png",
}


def evaluated_files(dataset, models, name):
    return [f"results/{dataset}/models/{model}/{name}" for model in models]


def sweep_models(dataset, sweep):
    return [
        name
        for name, spec in MODELS.items()
        if spec.get("sweep") == sweep and spec["dataset"] == dataset
    ]


def comparison_paths(dataset):
    """{table, groups, plot} of a dataset, or {} when it has no model to compare."""
    if not models_of(dataset):
        return {}
    return {key: path.format(dataset=dataset) for key, path in COMPARISON.items()}


def sweep_paths(dataset, sweep):
    return {
        key: path.format(dataset=dataset, sweep=sweep) for key, path in SWEEP.items()
    }


def compare_targets():
    targets = []
    for dataset in DATASETS:
        targets += comparison_paths(dataset).values()
        for sweep in sweeps_of(dataset):
            targets += sweep_paths(dataset, sweep).values()
    return targets


# --- figures ------------------------------------------------------------------
FIGURE_PATH = "results/{dataset}/figures/{model}/{figure}.png"


def figure_output(figure, family):
    """The figure's path for `snakemake --report`, captioned by its family."""
    return report(
        FIGURE_PATH.replace("{figure}", figure),
        category="Models",
        subcategory="{model}",
        caption=f"../report/figure_{family}.rst",
        labels={"model": "{model}", "figure": figure},
    )


def figure_log(figure):
    return f"results/{{dataset}}/logs/figures/{{model}}/{figure}.log"


def figure_spec(wildcards):
    """Only what drawing needs: model name, class names and the model's `figures:` settings."""
    spec = EVALUATED[wildcards.model]
    classes = DATASETS[wildcards.dataset]["classes"]
    return as_json(
        {"name": wildcards.model, "classes": classes, "figures": spec["figures"]}
    )


def figure_shell(figure, *inputs, dirs=()):
    """`maskflow figure NAME --<input> {input.<input>:q} ... --out {output:q}`."""
    flags = "".join(f" --{key.replace('_', '-')} {{input.{key}:q}}" for key in inputs)
    flags += "".join(f" --{key.replace('_', '-')} {{params.{key}:q}}" for key in dirs)
    return (
        f"python -m maskflow figure {figure}{flags} --spec {{params.spec:q}} --out {{output:q}}"
        " 2> {log:q}"
    )


MODEL_DIR = "results/{dataset}/models/{model}"
ANY_EVALUATED = _names_regex(EVALUATED)
TRAINED = _names_regex(MODELS)


def figure_paths(name):
    """Every figure of one model or ensemble (the report's inputs use this too)."""
    dataset = EVALUATED[name]["dataset"]
    return {
        figure: FIGURE_PATH.format(dataset=dataset, model=name, figure=figure)
        for figure in figures_for(name)
    }


def figure_targets():
    return [path for name in EVALUATED for path in figure_paths(name).values()]


# --- report -------------------------------------------------------------------


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


def report_targets():
    return ["results/report.html"]


def all_targets():
    """Every final target of every stage: what `rule all` asks for."""
    return (
        data_targets()
        + train_targets()
        + evaluate_targets()
        + figure_targets()
        + compare_targets()
        + report_targets()
    )
