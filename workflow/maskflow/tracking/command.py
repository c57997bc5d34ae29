"""`maskflow track`: the workflow's tracking steps (workflow/rules/track.smk).

    maskflow track store --settings '{"uri": "sqlite:///mlflow.db", "artifacts": "mlartifacts"}' --out results/tracking/store.json
    maskflow track run --files FILES.json --settings SETTINGS.json --out results/masks/tracking/runs/cnn.json
    maskflow track summary --settings SETTINGS.json --dataset masks --runs RUN.json ... \
        --members MEMBER.json ... --out history.json --plot history.png

`store` creates and migrates the store once, before any logging job. `run` reads one model's
files into the record of its MLflow run (maskflow.tracking.record) and writes it as the model's
marker, without MLflow: a job per trained model costs a Python start, not an MLflow import (1.6
CPU s). Sweep members have no such job: `summary` builds their records from their files
(`--members`, one JSON object each: files and base), so a sweep of thousands adds no job per
member. `summary`, one job per dataset, opens the store once, logs each record whose training
id it does not hold yet (so a rerun or a lost marker adds nothing) and writes what the report's
History section shows. A store that cannot be used fails that step with one line
(maskflow.tracking.store.explain); results/ is left as it is and the next run records what was
missed.
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
    parser.add_argument("--runs", nargs="*", default=[], help="(summary) the dataset's run records, logged first")
    parser.add_argument(
        "--members", nargs="*", default=[], help="(summary) JSON of each sweep member: its files and base"
    )
    parser.add_argument("--out", required=True, help="the marker (store, run) or history.json (summary) to write")
    parser.add_argument("--plot", help="(summary) the figure of test accuracy over runs")


def step_store(args, settings: dict) -> None:
    revision = store.ensure(settings["uri"], settings["artifacts"])
    atomic.write_json(args.out, {"uri": settings["uri"], "schema": revision, "mlflow": store.mlflow_version()})


def step_run(args, settings: dict) -> None:
    import dataclasses

    from maskflow.tracking.record import build_record

    record = build_record(json_option(args.files, "--files"), settings)
    log.info("%s: training %s read for the run history", record.name, record.training_id)
    atomic.write_json(args.out, {"uri": settings["uri"], **dataclasses.asdict(record)})


def read_records(paths: list[str]) -> list:
    """The records `run` steps wrote (their markers)."""
    from maskflow.io.files import read_json
    from maskflow.tracking.record import Record

    records = []
    for path in paths:
        fields = read_json(path, "run record")
        fields.pop("uri", None)
        records.append(Record(**fields))
    return records


def member_records(members: list[str], settings: dict) -> list:
    """The sweep members' records, built here from their files (`--members`)."""
    from maskflow.tracking.record import build_record

    records = []
    for text in members:
        member = json_option(text, "--members")
        records.append(build_record(member["files"], {**settings, "base": member.get("base") or ""}))
    return records


def log_records(client, records: list, settings: dict) -> None:
    """Log each record not yet in the store, in one process."""
    from maskflow.tracking.log import log_record

    location = None
    for record in records:
        if location is None:
            location = store.artifact_location(settings["uri"], settings["artifacts"], record.experiment)
        run_id, created = log_record(client, record, location)
        log.info(
            "%s: %s run %s (training %s)",
            record.name,
            "logged" if created else "already recorded as",
            run_id,
            record.training_id,
        )


def step_summary(args, settings: dict) -> None:
    from maskflow.tracking.history import runs_of, with_changes
    from maskflow.tracking.summary import write_summary

    uri = settings["uri"]
    experiment = settings["experiment"]
    # Read before the store is opened: a member's bad file is its own error, not the store's.
    records = read_records(args.runs) + member_records(args.members, settings)
    try:
        client = store.client(uri)
        log_records(client, records, settings)
        rows = with_changes(runs_of(client, experiment))
    except Exception as error:
        raise store.StoreError(store.explain(uri, error)) from None
    write_summary(rows, dataset=args.dataset, experiment=experiment, uri=uri, out=args.out, plot=args.plot)


STEPS = {"store": step_store, "run": step_run, "summary": step_summary}


def run(args: argparse.Namespace) -> None:
    STEPS[args.step](args, json_option(args.settings, "--settings"))
