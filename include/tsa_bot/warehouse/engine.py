"""Which Postgres the warehouse lives in, and a SQLAlchemy engine for it.

Resolution order, the same for the CLI and for Airflow tasks:
1. an explicit URL passed by the caller (``--warehouse-url``);
2. ``TSA_WAREHOUSE_URL`` (or ``TSABOT_WAREHOUSE_URL``) in the environment;
3. the Airflow connection ``tsa_warehouse`` (via PostgresHook), when Airflow is installed and it is defined;
4. an embedded PostgreSQL started through ``pgserver`` under ``<state_dir>/pgdata``, which persists.

The SQL is identical in every case: the embedded server is a real PostgreSQL. A URL that is given but
empty is an error, not a silent fall-through to the embedded server (an unset variable is the way to ask
for that).

:func:`warehouse_errors` turns every database failure into a typed one-line error: a dropped connection
(retryable), missing rights or a read-only role, or a statement the server refused.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import psutil
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tsa_bot.core.config import get_settings
from tsa_bot.core.errors import (
    ConfigurationError,
    TsaBotError,
    WarehouseReadOnly,
    WarehouseRejected,
    WarehouseUnavailable,
    one_line,
)

log = logging.getLogger(__name__)

AIRFLOW_CONN_ID = "tsa_warehouse"


URL_SHAPE = "postgresql://user:password@host:port/database"


def _parse(url: str, source: str) -> sa.URL:
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - a port that is not a number fails here, not later
    except (sa.exc.ArgumentError, ValueError):
        # Never echo the URL itself: it may hold a password.
        raise ConfigurationError(f"{source} is not a URL that can be read; expected {URL_SHAPE}") from None
    return parsed


def normalise_url(url: str, source: str = "the warehouse URL") -> str:
    """Use psycopg 3 for every postgres URL, whatever driver the user wrote."""
    parsed = _parse(url, source)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"warehouse must be PostgreSQL, got '{parsed.get_backend_name()}'")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def describe(url: str) -> str:
    """A loggable description of a URL: never the password."""
    return _parse(url, "the warehouse URL").render_as_string(hide_password=True)


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


def resolve_url(url: str | None = None, source: str = "--warehouse-url") -> str:
    """The warehouse URL by the resolution order in this module's docstring.

    ``source`` names where an explicit ``url`` came from, for the error if it is empty or unreadable.
    """
    names = ("TSA_WAREHOUSE_URL", "TSABOT_WAREHOUSE_URL")
    given = [(source, url)] + [(name, os.environ.get(name)) for name in names]
    for name, value in given:
        if value is None:
            continue
        if not value.strip():
            raise ConfigurationError(
                f"{name} is set but empty; unset it to use the embedded warehouse, or give {URL_SHAPE}"
            )
        return normalise_url(value, name)
    candidate = get_settings().warehouse_url or _airflow_connection_url()
    if candidate:
        return normalise_url(candidate, f"the Airflow connection {AIRFLOW_CONN_ID}")
    return normalise_url(embedded_url(), "the embedded warehouse")


@lru_cache(maxsize=8)
def _engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_pre_ping=True, future=True)


def get_engine(url: str | None = None) -> sa.Engine:
    """A pooled engine for the resolved warehouse; fails with one line if it cannot connect."""
    resolved = resolve_url(url)
    try:
        engine = _engine_for(resolved)
    except sa.exc.ArgumentError as exc:  # e.g. an unknown option in the URL's query
        reason = one_line(exc)
        raise ConfigurationError(f"the warehouse URL has a setting SQLAlchemy refuses: {reason}") from None
    with warehouse_errors(f"connecting to {describe(resolved)}"), engine.connect() as conn:
        conn.execute(sa.text("select 1"))
    return engine


# SQLSTATEs meaning the role may not do what it tried: missing privileges, or a read-only transaction.
_NO_RIGHTS = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)


@contextmanager
def warehouse_errors(doing: str) -> Iterator[None]:
    """Turn a database failure into a typed one-line error; the transaction is already rolled back.

    Only a failed or dropped connection is retryable. The message is the server's first line, never the
    statement or its parameters (which may hold a whole page).
    """
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        reason = one_line(exc.orig or exc)
        raise WarehouseUnavailable(f"warehouse connection failed while {doing}: {reason}") from exc
    except sa.exc.DBAPIError as exc:
        reason = one_line(exc.orig or exc)
        if isinstance(exc.orig, _NO_RIGHTS):
            raise WarehouseReadOnly(
                f"the warehouse role may not do this while {doing}: {reason}; "
                "grant it write access, or use a role that has it"
            ) from exc
        raise WarehouseRejected(f"the warehouse refused {doing}: {reason}") from exc


STOP_WAIT_S = 15  # pg_ctl's fast shutdown takes a second or two; a server still up after this did not stop


class EmbeddedWarehouseInUse(TsaBotError):
    """A running process still holds the embedded warehouse, or it would not stop: it was left running."""


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _postmaster(data_dir: Path) -> psutil.Process | None:
    """The PostgreSQL server running on ``data_dir``, found from its ``postmaster.pid``; None if none runs
    (no file, or a stale one)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        process = psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return process if _running(pid) else None


def stop_embedded(state_dir: Path | None = None) -> bool:
    """Stop the embedded PostgreSQL if it runs; returns whether there was one to stop.

    pgserver stops the server when its last handle is released, and counts handles by process id in
    ``pgdata/.handle_pids.json``. A process killed with ``kill -9`` never takes its id out, so the server
    would never count as unused: ids of processes that no longer run are dropped first (under pgserver's
    lock). A process that still runs with a handle is named (``EmbeddedWarehouseInUse``), not stopped
    under; so is a server that would not stop.
    """
    state = state_dir or get_settings().state_dir
    data_dir = state / "pgdata"
    server = _postmaster(data_dir)
    if server is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import fasteners
        import pgserver
        from pgserver.postgres_server import PostgresServer
        from pgserver.utils import DiskList

        logging.getLogger("pgserver").setLevel(logging.WARNING)
    handles = DiskList(data_dir.resolve() / ".handle_pids.json")
    with fasteners.InterProcessLock(PostgresServer.lock_path):
        holders = handles.get()
        users = sorted(pid for pid in holders if pid != os.getpid() and _running(pid))
        if users:
            names = ", ".join(map(str, users))
            raise EmbeddedWarehouseInUse(
                f"the embedded warehouse in {state} is in use by process{'es' if len(users) > 1 else ''} "
                f"{names}: stop it first (or make down)"
            )
        kept = [pid for pid in holders if pid == os.getpid()]
        if kept != holders:
            handles.put(kept)  # the dead ones' ids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A handle in "stop" mode shuts the server down when released, no other user being left.
        pgserver.get_server(data_dir, cleanup_mode="stop").cleanup()
    deadline = time.monotonic() + STOP_WAIT_S
    while _running(server.pid):  # not our child: polled (an unreaped zombie counts as stopped)
        if time.monotonic() > deadline:
            raise EmbeddedWarehouseInUse(
                f"the embedded warehouse in {state} did not stop (PostgreSQL pid {server.pid}); another "
                "process may have opened it meanwhile"
            )
        time.sleep(0.1)
    return True
