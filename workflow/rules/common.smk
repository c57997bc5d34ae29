# Input functions and helpers shared by every stage. The config is validated and resolved
# once, here (maskflow.config), so rules only look things up.
import json
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError

# Put the Python environment that runs Snakemake first on PATH, so jobs find its `python` even
# when the venv is not activated (`.venv/bin/snakemake ...`). Jobs on a cluster inherit it; a
# conda env activated for a job still comes before it.
os.environ["PATH"] = (
    os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
)
# Jobs share cores (--cores 8 on a 2-core laptop): OpenMP threads that spin while waiting
# made a 23 ms torch step take 495 ms. Passive waits cost nothing when cores are free.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
PACKAGE_DIR = os.path.join(workflow.basedir, "workflow")
sys.path.insert(0, PACKAGE_DIR)

# How rules call the package: `python -m maskflow` with workflow/ on PYTHONPATH, so the same
# command works in the venv that runs Snakemake, in the per-rule conda env and on cluster nodes.
MASKFLOW = f"PYTHONPATH={shlex.quote(PACKAGE_DIR)}${{PYTHONPATH:+:$PYTHONPATH}} python -m maskflow"
CONDA_ENV = "../../envs/maskflow.yaml"

from maskflow.config import SPLITS, load_and_check  # noqa: E402
from maskflow.errors import MaskflowError  # noqa: E402

try:
    MF = load_and_check(
        config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
    )
except MaskflowError as error:
    raise WorkflowError(f"config: {error}") from None

DATASETS = MF["datasets"]
MODELS = MF["models"]
ENSEMBLES = MF["ensembles"]
EVALUATED = {**MODELS, **ENSEMBLES}
THREADS = MF["threads"]

# Dataset formats cut from photos (these have boxes and source photos to draw overlays on).
PHOTO_FORMATS = {"bbox_csv", "voc_xml", "image_folder"}
EVAL_SPLITS = ("val", "test")


def _names_regex(names):
    return "|".join(sorted(names, key=len, reverse=True)) or "(?!x)x"


wildcard_constraints:
    dataset=_names_regex(DATASETS),
    split="train|val|test",


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


# Each stage's .smk registers a function returning its final targets; `rule all` asks them all.
TARGET_FUNCTIONS = []


def register_targets(function):
    TARGET_FUNCTIONS.append(function)
    return function


def all_targets():
    return [target for function in TARGET_FUNCTIONS for target in function()]


STATS_FIGURES = ("class_balance", "examples", "box_sizes")


@register_targets
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
