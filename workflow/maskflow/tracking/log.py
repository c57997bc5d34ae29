"""Log one Record as one MLflow run, unless a finished run with its training id exists.

    run_id, created = log_record(client, record, artifact_location)

Looking the training id up first is what makes logging idempotent: a rerun of the tracking step,
a lost marker file, an evaluation redone for the same checkpoint all find the run and add
nothing. A run left unfinished by an interrupted logging (MLflow status RUNNING or FAILED) is
deleted and logged again, so no half-logged run hides a training.
"""

from __future__ import annotations

import logging

from maskflow.tracking.record import Record

log = logging.getLogger(__name__)

BATCH = 500  # MLflow takes at most 1000 metrics and 100 params per log_batch


def experiment_id(client, name: str, location: str | None) -> str:
    """The experiment's id, created on first use. Two jobs may create it at once: the loser reads it."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def find_runs(client, experiment: str, training_id: str) -> list:
    from mlflow.entities import ViewType

    return client.search_runs(
        [experiment], filter_string=f"tags.`maskflow.training_id` = '{training_id}'", run_view_type=ViewType.ALL
    )


def log_record(client, record: Record, location: str | None) -> tuple[str, bool]:
    """(run id, whether a run was created)."""
    from mlflow.entities import Metric, Param, RunTag

    experiment = experiment_id(client, record.experiment, location)
    for run in find_runs(client, experiment, record.training_id):
        if run.info.status == "FINISHED" and run.info.lifecycle_stage == "active":
            return run.info.run_id, False
        log.warning(
            "run %s of %s was left unfinished (%s): logging it again", run.info.run_id, record.name, run.info.status
        )
        client.delete_run(run.info.run_id)
    tags = {**record.tags, "maskflow.training_id": record.training_id}  # what find_runs looks up
    run = client.create_run(experiment, start_time=record.start_ms, tags=tags, run_name=record.name)
    run_id = run.info.run_id
    metrics = [
        Metric(key, value, stamp, step) for key, points in record.series.items() for step, value, stamp in points
    ]
    metrics += [Metric(key, value, record.end_ms, 0) for key, value in record.final.items()]
    params = [Param(key, value) for key, value in record.params.items()]
    for start in range(0, max(len(metrics), 1), BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH])
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start : start + 100])
    client.log_batch(run_id, tags=[RunTag("maskflow.logged", "true")])
    for folder, paths in record.artifacts.items():
        for path in paths:
            client.log_artifact(run_id, path, artifact_path=folder or None)
    client.set_terminated(run_id, "FINISHED", end_time=record.end_ms)
    return run_id, True
