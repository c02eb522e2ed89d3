"""Which Postgres the warehouse lives in, and a SQLAlchemy engine for it.

Resolution order, the same for the CLI and for Airflow tasks:
1. an explicit URL passed by the caller;
2. ``TSA_WAREHOUSE_URL`` in the environment;
3. the Airflow connection ``tsa_warehouse`` (via PostgresHook), when Airflow is installed and it is defined;
4. an embedded PostgreSQL started through ``pgserver`` under ``<state_dir>/pgdata``, which persists.

The SQL is identical in every case: the embedded server is a real PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tsa_bot.config import get_settings
from tsa_bot.errors import ConfigurationError, WarehouseUnavailable

log = logging.getLogger(__name__)

AIRFLOW_CONN_ID = "tsa_warehouse"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for every postgres URL, whatever driver the user wrote."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"warehouse must be PostgreSQL, got '{parsed.get_backend_name()}'")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def describe(url: str) -> str:
    """A loggable description of a URL: never the password."""
    return make_url(url).render_as_string(hide_password=True)


def _airflow_connection_url() -> str | None:
    # Only where Airflow is already loaded (a task) or the connection is in the environment: importing
    # Airflow from the plain CLI costs seconds and reconfigures logging.
    if "airflow" not in sys.modules and not os.environ.get("AIRFLOW_CONN_TSA_WAREHOUSE"):
        return None
    try:
        from airflow.exceptions import AirflowNotFoundException
        from airflow.providers.postgres.hooks.postgres import PostgresHook
    except ImportError:
        return None
    try:
        url = PostgresHook(postgres_conn_id=AIRFLOW_CONN_ID).sqlalchemy_url
        if url.host and url.host.startswith("/"):
            # A Unix-socket directory as the connection's host: as a URL string "user@/dir/db" would parse
            # back as database "dir/db", so libpq gets it as the host query parameter instead.
            url = sa.URL.create(
                url.drivername,
                url.username,
                url.password,
                port=url.port,  # with a socket, the port picks the socket file (.s.PGSQL.<port>)
                database=url.database,
                query={**url.query, "host": url.host},
            )
        return url.render_as_string(hide_password=False)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # outside a task the SDK may refuse to look connections up at all
        log.debug("no Airflow connection %s: %s", AIRFLOW_CONN_ID, exc)
        return None


def embedded_url(state_dir: Path | None = None) -> str:
    """Start (or join) the embedded PostgreSQL under ``state_dir/pgdata`` and return its URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import pgserver
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    data_dir = (state_dir or get_settings().state_dir) / "pgdata"
    data_dir.mkdir(parents=True, exist_ok=True)
    # The server outlives this process so that the CLI, Airflow tasks and tests can share it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()


def resolve_url(url: str | None = None) -> str:
    """The warehouse URL by the resolution order in this module's docstring."""
    candidate = (
        url
        or os.environ.get("TSA_WAREHOUSE_URL")
        or get_settings().warehouse_url
        or _airflow_connection_url()
        or embedded_url()
    )
    return normalise_url(candidate)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_pre_ping=True, future=True)


def get_engine(url: str | None = None) -> sa.Engine:
    """A pooled engine for the resolved warehouse; fails with one line if it cannot connect."""
    resolved = resolve_url(url)
    engine = _engine_for(resolved)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        raise WarehouseUnavailable(
            f"cannot connect to the warehouse at {describe(resolved)}: {_first_line(exc.orig or exc)}"
        ) from exc
    return engine


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def stop_embedded(state_dir: Path | None = None) -> bool:
    """Stop the embedded PostgreSQL if it runs; returns whether there was one to stop."""
    data_dir = (state_dir or get_settings().state_dir) / "pgdata"
    if not (data_dir / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        # A handle in "stop" mode shuts the server down when released, other users having exited.
        pgserver.get_server(data_dir, cleanup_mode="stop").cleanup()
    return not (data_dir / "postmaster.pid").exists()
