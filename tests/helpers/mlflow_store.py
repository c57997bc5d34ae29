"""Reading an MLflow SQLite store with plain sqlite3, so tests check what was recorded without
going through the code under test (maskflow.tracking).

    from helpers.mlflow_store import runs, tags_of, metric_steps
    runs(workdir / "mlflow.db")          # [(run name, status), ...] of active runs, sorted
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path


def _query(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, args).fetchall()


def runs(db: Path) -> list[tuple[str, str]]:
    return sorted(_query(db, "SELECT name, status FROM runs WHERE lifecycle_stage = 'active'"))


def run_counts(db: Path) -> Counter:
    """run name -> number of active runs."""
    return Counter(name for name, _ in runs(db))


def run_ids(db: Path, name: str) -> list[str]:
    """Active runs of one name, oldest training first."""
    return [
        row[0]
        for row in _query(
            db, "SELECT run_uuid FROM runs WHERE name = ? AND lifecycle_stage = 'active' ORDER BY start_time", name
        )
    ]


def tags_of(db: Path, run_id: str) -> dict[str, str]:
    return dict(_query(db, "SELECT key, value FROM tags WHERE run_uuid = ?", run_id))


def params_of(db: Path, run_id: str) -> dict[str, str]:
    return dict(_query(db, "SELECT key, value FROM params WHERE run_uuid = ?", run_id))


def metric_steps(db: Path, run_id: str, key: str) -> list[tuple[int, float, int]]:
    """(step, value, timestamp ms) of one metric, by step."""
    return _query(
        db, "SELECT step, value, timestamp FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step", run_id, key
    )


def experiments(db: Path) -> list[str]:
    return sorted(row[0] for row in _query(db, "SELECT name FROM experiments WHERE lifecycle_stage = 'active'"))


def set_schema(db: Path, revision: str) -> str:
    """Set alembic's schema revision (a newer MLflow's store has one this MLflow does not know); returns the old."""
    with sqlite3.connect(db) as connection:
        (old,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    return old
