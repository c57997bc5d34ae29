"""`maskflow track`: the workflow's tracking steps (workflow/rules/track.smk).

    maskflow track store --settings '{"uri": "sqlite:///mlflow.db", "artifacts": "mlartifacts"}' --out results/tracking/store.json
    maskflow track run --files FILES.json --settings SETTINGS.json --out results/masks/tracking/cnn.json
    maskflow track summary --settings SETTINGS.json --dataset masks --out history.json --plot history.png

`store` creates and migrates the store once, before any logging job. `run` logs one model's
training as one MLflow run unless a run with its training id exists, then writes a small marker
(run id, training id). `summary` writes what the report's History section shows. A store that
cannot be used fails the step with one line (maskflow.tracking.store.explain); results/ is left
as it is and the next run records what was missed.
"""

from __future__ import annotations

import argparse
import logging

from maskflow.io import atomic
from maskflow.options import json_option
from maskflow.tracking import store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("step", choices=("store", "run", "summary"))
    parser.add_argument("--settings", required=True, help="JSON: the tracking: block (uri, artifacts, experiment, ...)")
    parser.add_argument("--files", help="JSON (run): metrics, history, artifacts {folder: [paths]}, members")
    parser.add_argument("--dataset", help="(summary) the dataset")
    parser.add_argument("--out", required=True, help="the marker (store, run) or history.json (summary) to write")
    parser.add_argument("--plot", help="(summary) the figure of test accuracy over runs")


def step_store(args, settings: dict) -> None:
    revision = store.ensure(settings["uri"], settings["artifacts"])
    atomic.write_json(args.out, {"uri": settings["uri"], "schema": revision, "mlflow": store.mlflow_version()})


def step_run(args, settings: dict) -> None:
    from maskflow.tracking.log import log_record
    from maskflow.tracking.record import build_record

    files = json_option(args.files, "--files")
    record = build_record(files, settings)
    uri = settings["uri"]
    try:
        client = store.client(uri)
        location = store.artifact_location(uri, settings["artifacts"], record.experiment)
        run_id, created = log_record(client, record, location)
    except Exception as error:  # MLflow wraps SQLAlchemy and HTTP errors in several types
        raise store.StoreError(store.explain(uri, error)) from None
    log.info(
        "%s: %s run %s (training %s)",
        record.name,
        "logged" if created else "already recorded as",
        run_id,
        record.training_id,
    )
    atomic.write_json(
        args.out,
        {"uri": uri, "experiment": record.experiment, "run_id": run_id, "training_id": record.training_id},
    )


def step_summary(args, settings: dict) -> None:
    from maskflow.tracking.history import runs_of, with_changes
    from maskflow.tracking.summary import write_summary

    uri = settings["uri"]
    experiment = settings["experiment"]
    try:
        rows = with_changes(runs_of(store.client(uri), experiment))
    except Exception as error:
        raise store.StoreError(store.explain(uri, error)) from None
    write_summary(rows, dataset=args.dataset, experiment=experiment, uri=uri, out=args.out, plot=args.plot)


STEPS = {"store": step_store, "run": step_run, "summary": step_summary}


def run(args: argparse.Namespace) -> None:
    STEPS[args.step](args, json_option(args.settings, "--settings"))
