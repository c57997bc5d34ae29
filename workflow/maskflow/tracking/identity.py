"""A training's own identity and times, stored in its checkpoint (`training_run`).

    row["time"] = time.time()             # optional: each history row, at the end of its epoch
    checkpoint["training_run"] = training_run(history)

The id is fresh for every training, so the tracking step can tell a retrained model from one
that was only evaluated again, and a rerun of the tracking step from a new training: it looks
the id up among the runs before logging (maskflow.tracking.log). Start and end are the
training's own clock. history.csv keeps its columns: the torch trainer's rows carry their end
time (the resume state saves the rows, so a resumed training keeps them); rows without one (the
NumPy trainer, which runs in one go) get it from the end of training minus the later epochs'
seconds. Imports nothing heavy: the train jobs use it.
"""

from __future__ import annotations

import hashlib
import time
import uuid

# Set by the workflow once per Snakemake invocation (maskflow.tracking.plan.mark_invocation); the
# runs it records carry it, so `maskflow history` can mark what the last invocation trained.
INVOCATION_ENV = "MASKFLOW_INVOCATION"


def epoch_end_times(history: list[dict], finished: float) -> list[float]:
    """Each epoch's end (unix seconds): the row's own `time`, else counted back from `finished`."""
    times, clock = [], finished
    for row in reversed(history):
        end = row.get("time") or clock
        times.append(end)
        clock = end - float(row.get("seconds") or 0.0)
    return times[::-1]


def training_run(history: list[dict]) -> dict:
    """{id, started, finished, epoch_times} of one training (unix seconds; started = end of the
    first epoch minus its seconds)."""
    finished = time.time()
    times = epoch_end_times(history, finished)
    started = times[0] - float(history[0].get("seconds") or 0.0) if history else finished
    return {"id": uuid.uuid4().hex, "started": started, "finished": finished, "epoch_times": times}


def ensemble_id(name: str, member_ids: list[str]) -> str:
    """An ensemble is a new version exactly when one of its members is (or its member list changes)."""
    text = name + "\n" + "\n".join(member_ids)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
