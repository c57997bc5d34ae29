"""What the workflow's tracking rules ask for (workflow/rules/track.smk), from the resolved config.
Read by Snakemake at every start: no MLflow, torch or pandas here.

    plan = TrackingPlan(resolved, config)       # resolved: maskflow.config.load_and_check; config as given
    plan.targets()                              # run markers of the models tracked alone + each dataset's history files
    plan.files("masks", "cnn_baseline")         # what its run is read from and copies as artifacts
    plan.settings("masks")                      # the tracking: block a job needs

A model or ensemble has a `track` job of its own, which writes its run record (its marker). A
sweep member has none: the dataset's `track_history` job builds the members' records itself
(`member_lines`), since a job per member cost Snakemake about 2.35 ms of planning and the
member 0.43 s of a Python start, which a sweep of thousands pays thousands of times.
"""

from __future__ import annotations

import json
import os
import uuid

from maskflow import layout
from maskflow.tracking.identity import INVOCATION_ENV


def mark_invocation() -> str:
    """The id of this Snakemake invocation (`maskflow history` marks its runs). An environment
    variable, not a param, so it never makes Snakemake rerun anything; jobs inherit it."""
    return os.environ.setdefault(INVOCATION_ENV, uuid.uuid4().hex)


class TrackingPlan:
    def __init__(self, resolved: dict, config: dict):
        self.tracking = resolved["tracking"]
        self.config = config
        self.experiment = layout.Experiment(resolved)

    def targets(self) -> list[str]:
        """What `rule all` asks of the run history: the marker of every model tracked alone (so
        that a missing one, from a logging that failed, is made by the next run) and each
        dataset's history files (whose job logs the sweep members)."""
        if not self.tracking["enabled"]:
            return []
        targets = []
        for dataset in self.experiment.datasets:
            models = self.experiment.models_of(dataset)
            targets += self.runs(dataset)
            if models:
                targets += [layout.TRACKING[key].format(dataset=dataset) for key in ("history", "plot")]
        return targets

    def settings(self, dataset: str | None = None) -> dict:
        """uri and artifacts, and the dataset's experiment name when one is given."""
        settings = {key: self.tracking[key] for key in ("uri", "artifacts")}
        if dataset is not None:
            settings["experiment"] = self.tracking["experiment"].format(dataset=dataset)
        return settings

    def base(self, name: str) -> str:
        """The model a sweep member or a variant was derived from ('' for none)."""
        spec = self.experiment.evaluated[name]
        if spec.get("sweep"):
            return (self.config.get("sweeps") or {})[spec["sweep"]].get("base", "")
        return ((self.config.get("models") or {}).get(spec.get("group") or name) or {}).get("base", "")

    def files(self, dataset: str, name: str) -> dict:
        """What one run is read from (metrics, history, members' metrics) and copies as artifacts
        ({folder in the run: [paths]})."""
        spec = self.experiment.evaluated[name]
        trained = name in self.experiment.models
        copy = set(self.tracking["copy"])
        own = ("metrics", "history", "architecture") if trained else ("metrics",)
        artifacts = {"": [layout.MODEL[key].format(dataset=dataset, model=name) for key in own if key in copy]}
        if "figures" in copy:
            artifacts["figures"] = list(self.experiment.figure_paths(name).values())
        if trained and self.tracking["checkpoints"]:
            artifacts["checkpoint"] = [layout.MODEL["checkpoint"].format(dataset=dataset, model=name)]
        return {
            "metrics": layout.MODEL["metrics"].format(dataset=dataset, model=name),
            "history": layout.MODEL["history"].format(dataset=dataset, model=name) if trained else None,
            "artifacts": artifacts,
            "members": [] if trained else self.experiment.model_files(dataset, spec["members"], "metrics"),
        }

    def inputs(self, dataset: str, name: str) -> list[str]:
        """Every file of `files`: the track job waits for all of them."""
        files = self.files(dataset, name)
        listed = [files["metrics"], *files["members"], *(p for paths in files["artifacts"].values() for p in paths)]
        return sorted(set(listed + ([files["history"]] if files["history"] else [])))

    def alone(self, dataset: str) -> list[str]:
        """The dataset's models and ensembles that have a track job of their own: all but sweep members."""
        return [name for name in self.experiment.models_of(dataset) if not self.experiment.evaluated[name].get("sweep")]

    def members(self, dataset: str) -> list[str]:
        """The dataset's sweep members, whose records its history job builds."""
        return [name for name in self.experiment.models_of(dataset) if self.experiment.evaluated[name].get("sweep")]

    def runs(self, dataset: str) -> list[str]:
        """The run markers of the models tracked alone (what the dataset's history job waits for)."""
        return [layout.TRACKING["run"].format(dataset=dataset, model=name) for name in self.alone(dataset)]

    def member_inputs(self, dataset: str) -> list[str]:
        """Every file the sweep members' records are read from: the history job waits for them."""
        return sorted({path for name in self.members(dataset) for path in self.inputs(dataset, name)})

    def member_lines(self, dataset: str) -> list[str]:
        """One JSON object a member (its files and base), the lines of the argument file
        `track_members` that the history job reads."""
        return [
            json.dumps({"files": self.files(dataset, name), "base": self.base(name)}, sort_keys=True)
            for name in self.members(dataset)
        ]
