"""Run history: every trained model version recorded once as an MLflow run (docs/history.md).

    identity   the training's own id and times, written into the checkpoint by the train step
               (no MLflow: train and evaluate jobs never import it)
    store      the tracking URI: create + migrate once, open, failures as one clear line
    record     what one run holds (tags, params, metrics, artifacts), read from a model's files
    log        log one record unless a run with its training id exists (`maskflow track`)
    history    runs newest first with setting diffs and metric deltas (`maskflow history`)
    summary    the file and figure the report's History section reads

Only `store`, `log`, `history`'s queries and `command` import mlflow, and only when they run.
"""
