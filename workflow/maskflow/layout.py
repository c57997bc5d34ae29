"""Where every file of a run lives, and which files `snakemake all` asks for.

The one place results paths are written. The rules (workflow/rules/*.smk) take their input and
output templates from the tables below, the package reads the same names (cache files, stats
figures, a model's figures), and the report plan lists the same paths. Snakemake imports this
at every start: no torch, pandas or matplotlib here.

    from maskflow import layout
    layout.DATA["annotations"].format(dataset="masks")   # results/masks/data/annotations.csv
    layout.cache_files("masks", ("train",))                # results/masks/cache/train_x.npy, ...
    experiment = layout.Experiment(resolved)              # resolved: maskflow.config.load_and_check
    experiment.model_figures("cnn_baseline")               # ['confusion_matrix_val', ...]
    experiment.all_targets()                               # what `rule all` asks for

One table per stage (name -> template with {dataset}, {model}, {split}, {sweep}, {figure}
wildcards): a new output is one line in its stage's table, a new figure family one line in
maskflow.figures.families.FAMILIES.
"""

from __future__ import annotations

from maskflow.config import SPLITS
from maskflow.figures.families import FAMILIES
from maskflow.sources.local import MANIFEST

# ---------------------------------------------------------------- data stage
DATA = {
    "raw": "resources/{dataset}/raw",
    "manifest": MANIFEST,
    "validated": "results/{dataset}/data/validated.csv",
    "quality": "results/{dataset}/data/quality.json",
    "annotations": "results/{dataset}/data/annotations.csv",
    "cache_dir": "results/{dataset}/cache",
    "checksums": "results/{dataset}/cache/checksums.json",
    "counts": "results/{dataset}/stats/class_counts.csv",
    "normalization": "results/{dataset}/stats/normalization.json",
    "stats_figure": "results/{dataset}/stats/{figure}.png",
}
# part -> file name suffix of one split's cache files (docs/contracts.md)
CACHE_PARTS = {"x": "x.npy", "y": "y.npy", "index": "index.csv"}
CHECKSUMS_NAME = "checksums.json"  # the cache stage's own record of what it wrote
# The data set's figures, drawn by maskflow.data.stats (its FIGURES registry has these keys).
STATS_FIGURES = ("class_balance", "examples", "box_sizes")


def cache_names(splits=SPLITS) -> list[str]:
    """File names of a cache folder, split by split."""
    return [f"{split}_{suffix}" for split in splits for suffix in CACHE_PARTS.values()]


def cache_files(dataset: str, splits=SPLITS) -> list[str]:
    """Paths of a dataset's cache files (`dataset` may be the wildcard "{dataset}")."""
    folder = DATA["cache_dir"].format(dataset=dataset)
    return [f"{folder}/{name}" for name in cache_names(splits)]


# ---------------------------------------------------------------- train and evaluate
MODEL = {
    "dir": "results/{dataset}/models/{model}",
    "checkpoint": "results/{dataset}/models/{model}/checkpoint.pt",
    "history": "results/{dataset}/models/{model}/history.csv",
    "latent": "results/{dataset}/models/{model}/latent.npz",
    # the per-layer table (maskflow.models.summary), written by `maskflow train --architecture`
    "architecture": "results/{dataset}/models/{model}/architecture.txt",
    # Resume state sits outside the declared outputs: Snakemake deletes those when a job fails.
    "resume": "results/{dataset}/models/{model}/resume.pt",
    "metrics": "results/{dataset}/models/{model}/metrics.json",
    "predictions": "results/{dataset}/models/{model}/predictions_{split}.csv",
    # what a model's saliency and convolution figures plot, computed by evaluate (maskflow.evaluation.explain)
    "explanations": "results/{dataset}/models/{model}/explanations.npz",
}
TRAIN_OUTPUTS = ("checkpoint", "history")  # what `rule all` asks of every trained model

# ---------------------------------------------------------------- figures of a model
FIGURE = "results/{dataset}/figures/{model}/{figure}.png"

# ---------------------------------------------------------------- compare
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

# ---------------------------------------------------------------- run history (maskflow.tracking)
# Markers of what the tracking step did; the runs themselves live in the store (tracking.uri).
TRACKING = {
    "store": "results/tracking/store.json",  # the store, created and migrated once
    "run": "results/{dataset}/tracking/runs/{model}.json",  # run id + training id of one model
    "history": "results/{dataset}/tracking/history.json",  # the report's History section
    "plot": "results/{dataset}/tracking/history.png",  # test accuracy of each model over its runs
}

# ---------------------------------------------------------------- report
REPORT = {"plan": "results/report_plan.json", "html": "results/report.html"}

# A job's long list of input files (one per model of a dataset or a sweep), one per line, which
# its command reads as `@file` (workflow/rules/arguments.smk).
ARGUMENTS = "results/{dataset}/arguments/{name}.txt"


def model_figures(model: dict, dataset: dict) -> list[str]:
    """Figure names drawn for one resolved model or ensemble (each `figures/{model}/{name}.png`)."""
    names = []
    for name, family in FAMILIES.items():
        if not family.drawn_for(model, dataset):
            continue
        if family.per_split:
            names += [f"{name}_{split}" for split in family.drawn_splits]
        else:
            names.append(name)
    return names


class Experiment:
    """The paths and targets of one resolved config (maskflow.config.load_and_check's result)."""

    def __init__(self, resolved: dict):
        self.datasets = resolved["datasets"]
        self.models = resolved["models"]
        self.ensembles = resolved["ensembles"]
        self.evaluated = {**self.models, **self.ensembles}
        # A sweep is read through its table and plots: of its members, only those its `figures:`
        # lists get figures of their own in `all` and the report (any is drawn when named).
        self.sweeps = resolved.get("sweeps") or {}
        self._unfigured = {
            member for sweep in self.sweeps.values() for member in set(sweep["members"]).difference(sweep["figures"])
        }

    def models_of(self, dataset: str) -> list[str]:
        """Models and ensembles of a dataset, in config order."""
        return [name for name, spec in self.evaluated.items() if spec["dataset"] == dataset]

    def sweeps_of(self, dataset: str) -> list[str]:
        return sorted(
            {spec["sweep"] for spec in self.models.values() if spec.get("sweep") and spec["dataset"] == dataset}
        )

    def sweep_models(self, dataset: str, sweep: str) -> list[str]:
        return [n for n, spec in self.models.items() if spec.get("sweep") == sweep and spec["dataset"] == dataset]

    def model_files(self, dataset: str, models: list[str], key: str, **wildcards) -> list[str]:
        """One MODEL[key] path per model (e.g. every metrics.json of a comparison)."""
        return [MODEL[key].format(dataset=dataset, model=model, **wildcards) for model in models]

    def shown(self, name: str) -> bool:
        """Whether a model or ensemble has figures and a section of its own (a sweep member not
        listed in its sweep's `figures:` has neither)."""
        return name not in self._unfigured

    def model_figures(self, name: str) -> list[str]:
        """The figures `all` draws for a model: none for a sweep member its sweep does not list."""
        if not self.shown(name):
            return []
        spec = self.evaluated[name]
        return model_figures(spec, self.datasets[spec["dataset"]])

    def figure_paths(self, name: str) -> dict[str, str]:
        """figure name -> path, for every figure of one model or ensemble."""
        dataset = self.evaluated[name]["dataset"]
        return {
            figure: FIGURE.format(dataset=dataset, model=name, figure=figure) for figure in self.model_figures(name)
        }

    def comparison_paths(self, dataset: str) -> dict[str, str]:
        """{table, groups, plot} of a dataset, or {} when it has no model to compare."""
        if not self.models_of(dataset):
            return {}
        return {key: path.format(dataset=dataset) for key, path in COMPARISON.items()}

    def sweep_paths(self, dataset: str, sweep: str) -> dict[str, str]:
        return {key: path.format(dataset=dataset, sweep=sweep) for key, path in SWEEP.items()}

    # -- what `rule all` asks for, stage by stage
    def data_targets(self, dataset: str) -> list[str]:
        targets = [DATA[key].format(dataset=dataset) for key in ("annotations", "quality", "counts", "normalization")]
        targets += cache_files(dataset)
        return targets + [DATA["stats_figure"].format(dataset=dataset, figure=f) for f in STATS_FIGURES]

    def train_targets(self) -> list[str]:
        return [
            MODEL[key].format(dataset=spec["dataset"], model=name)
            for name, spec in self.models.items()
            for key in TRAIN_OUTPUTS
        ]

    def evaluate_targets(self) -> list[str]:
        targets = []
        for name, spec in self.evaluated.items():
            targets.append(MODEL["metrics"].format(dataset=spec["dataset"], model=name))
            targets += [MODEL["predictions"].format(dataset=spec["dataset"], model=name, split=s) for s in SPLITS]
        return targets

    def figure_targets(self) -> list[str]:
        return [path for name in self.evaluated for path in self.figure_paths(name).values()]

    def compare_targets(self) -> list[str]:
        targets = []
        for dataset in self.datasets:
            targets += self.comparison_paths(dataset).values()
            for sweep in self.sweeps_of(dataset):
                targets += self.sweep_paths(dataset, sweep).values()
        return targets

    def all_targets(self) -> list[str]:
        """Every final target of every stage: what `rule all` asks for."""
        targets = [path for dataset in self.datasets for path in self.data_targets(dataset)]
        targets += self.train_targets() + self.evaluate_targets() + self.figure_targets() + self.compare_targets()
        return targets + [REPORT["html"]]
