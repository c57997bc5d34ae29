"""The tracking store: where runs go (`tracking.uri`), created and migrated once, opened by each job.

    from maskflow.tracking import store
    store.ensure("sqlite:///mlflow.db", "mlartifacts")   # the workflow's one store job: create + migrate
    client = store.client("sqlite:///mlflow.db")          # every logging job, after ensure()

MLflow's first creation of a SQLite database is not safe when several processes do it at once
(a half-migrated database that every later open refuses), so the workflow runs `ensure` in one
job (`maskflow track store`, rule track_store) that every logging job waits for. Any failure of
the store (unreachable, locked past SQLite's busy timeout, made by a newer MLflow, older than
this MLflow) becomes one MaskflowError line naming the URI, the cause and the remedy. MLflow's
telemetry is turned off before mlflow is imported.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlparse

from maskflow.errors import MaskflowError

log = logging.getLogger(__name__)

# Set before mlflow is imported (it reads them at import). A remote server that does not answer
# fails the step in about a minute, not after MLflow's default seven retries with backoff.
ENVIRONMENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


class StoreError(MaskflowError):
    """The tracking store cannot be used; the message names the URI, the cause and the remedy."""


def quiet_mlflow() -> None:
    """Telemetry off and no progress chatter: call before the first `import mlflow`."""
    for key, value in ENVIRONMENT.items():
        if key == "MLFLOW_DISABLE_TELEMETRY":
            os.environ[key] = value  # always off, whatever the environment says
        else:
            os.environ.setdefault(key, value)
    for name in ("alembic", "mlflow.store.db.utils", "mlflow.store.db"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # each retry of an unanswered request is a warning; the failure is reported once, by explain()
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def is_sqlite(uri: str) -> bool:
    return uri.startswith("sqlite:")


def sqlite_path(uri: str) -> Path:
    """The database file of a sqlite:///relative or sqlite:////absolute URI."""
    return Path(uri.removeprefix("sqlite:///"))


def artifact_location(uri: str, artifacts: str, experiment: str) -> str | None:
    """Where a new experiment keeps its artifacts: a folder per experiment beside a SQLite store;
    None (the server's own artifact store) for a tracking server."""
    if not is_sqlite(uri):
        return None
    return (Path(artifacts) / experiment).resolve().as_uri()


def explain(uri: str, error: BaseException) -> str:
    """One line: the URI, the cause and what to do."""
    text = str(error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    if "out-of-date database schema" in text:
        found = text.split("found version ", 1)[-1].split(",", 1)[0]
        if is_sqlite(uri) and not known_revision(found):
            return (
                f"tracking store {uri}: made by a newer MLflow (database schema {found}, unknown to the MLflow "
                f"{mlflow_version()} maskflow pins); use that newer MLflow to read it, or set tracking.uri to another "
                "store (results/ is intact; the next run records what was missed)"
            )
        return (
            f"tracking store {uri}: made by an older MLflow (database schema {found}); back it up, then run "
            f"`mlflow db upgrade {uri}` (results/ is intact; the next run records what was missed)"
        )
    if "database is locked" in text:
        return (
            f"tracking store {uri}: locked by another process past SQLite's busy timeout; let it finish (or stop it), "
            "then run again: results/ is intact and the next run records what was missed"
        )
    if "unable to open database file" in text:
        return (
            f"tracking store {uri}: cannot open the database file (missing folder or no permission); fix the path or "
            "tracking.uri, then run again: results/ is intact and the next run records what was missed"
        )
    if "file is not a database" in text:
        return (
            f"tracking store {uri}: the file is not an SQLite database; move it aside or set tracking.uri to another "
            "store (results/ is intact; the next run records what was missed)"
        )
    if not is_sqlite(uri) and any(
        word in text for word in ("Max retries", "Connection refused", "ConnectionError", "timed out", "API request")
    ):
        cause = next(
            (w for w in ("Connection refused", "timed out", "Name or service not known") if w in text), "no answer"
        )
        return (
            f"tracking store {uri}: the tracking server does not answer ({cause.lower()}); start it or fix tracking.uri, "
            "then run again: results/ is intact and the next run records what was missed"
        )
    return f"tracking store {uri}: {first[:300]} (results/ is intact; the next run records what was missed)"


def mlflow_version() -> str:
    from importlib import metadata

    for name in ("mlflow-skinny", "mlflow"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def known_revision(revision: str) -> bool:
    """Whether this MLflow's migrations know a schema revision (an unknown one is newer)."""
    quiet_mlflow()
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for unknown or malformed ids
        return False


def check_uri(uri: str) -> None:
    scheme = urlparse(uri).scheme
    if scheme not in ("sqlite", "http", "https", "postgresql", "mysql", "mssql"):
        raise StoreError(
            f"tracking.uri {uri!r}: not a tracking URI maskflow supports (sqlite:///file.db, http://host:port, or a "
            "database URL such as postgresql://...)"
        )


def ensure(uri: str, artifacts: str) -> str:
    """Create and migrate a database store, or check that a server answers. Returns the schema
    revision (databases) or "server". Run once, before any logging job."""
    check_uri(uri)
    quiet_mlflow()
    try:
        if is_sqlite(uri) or "://" in uri and not uri.startswith("http"):
            if is_sqlite(uri):
                sqlite_path(uri).parent.mkdir(parents=True, exist_ok=True)
            from mlflow.store.db.utils import _get_schema_version
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            # Creates the tables on an empty database, migrates them to this MLflow's head, and
            # refuses a database of another schema version.
            tracking = SqlAlchemyStore(uri, Path(artifacts).resolve().as_uri())
            revision = _get_schema_version(tracking.engine)
            tracking.engine.dispose()
            return revision
        client(uri).search_experiments(max_results=1)
        return "server"
    except StoreError:
        raise
    except Exception as error:  # MLflow wraps SQLAlchemy and HTTP errors in several types
        raise StoreError(explain(uri, error)) from None


def client(uri: str):
    """An MlflowClient on the store (ensure() has created it)."""
    quiet_mlflow()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)
