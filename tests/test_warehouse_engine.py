"""Which warehouse the bot uses: explicit URL, then TSA_WAREHOUSE_URL, then Airflow's tsa_warehouse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tsa_bot.core.config import get_settings
from tsa_bot.core.errors import ConfigurationError, WarehouseUnavailable
from tsa_bot.local.cli import main
from tsa_bot.warehouse.engine import describe, get_engine, normalise_url, resolve_url


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def as_airflow_uri(url: str) -> str:
    """The warehouse as an AIRFLOW_CONN_* URI; a Unix-socket directory goes in the host, as Airflow's
    connection form takes it (the embedded server listens on a socket only)."""
    parsed = make_url(url).set(drivername="postgresql")
    socket_dir = parsed.query.get("host")
    if socket_dir:
        parsed = parsed.difference_update_query(["host"]).set(host=quote(socket_dir, safe=""))
    return parsed.render_as_string(hide_password=False)


def test_environment_url_wins_over_the_airflow_connection(monkeypatch, warehouse_url):
    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("AIRFLOW_CONN_TSA_WAREHOUSE", "postgresql://nobody@127.0.0.1:1/elsewhere")
    assert resolve_url() == warehouse_url
    assert resolve_url("postgresql://u@h/explicit") == "postgresql+psycopg://u@h/explicit"


def test_the_airflow_connection_is_used_when_no_url_is_set(monkeypatch, warehouse_url):
    monkeypatch.delenv("TSA_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_TSA_WAREHOUSE", as_airflow_uri(warehouse_url))
    resolved = resolve_url()
    assert make_url(resolved).database == make_url(warehouse_url).database
    with get_engine().connect() as conn:
        assert conn.execute(sa.text("select count(*) from tsa_daily")).scalar_one() == 0


def test_a_socket_directory_as_the_connections_host_reaches_libpq_as_host(monkeypatch):
    monkeypatch.delenv("TSA_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_TSA_WAREHOUSE", "postgresql://bot:pw@%2Fvar%2Frun%2Fpostgresql:6543/tsa")
    resolved = make_url(resolve_url())
    assert (resolved.host, resolved.port, resolved.database) == (None, 6543, "tsa")
    assert resolved.query["host"] == "/var/run/postgresql"


def test_unreachable_warehouse_is_one_line_without_the_password():
    with pytest.raises(WarehouseUnavailable) as info:
        get_engine("postgresql://bot:s3cret@127.0.0.1:1/warehouse?connect_timeout=2")
    assert "s3cret" not in str(info.value) and "\n" not in str(info.value)
    assert "127.0.0.1:1" in str(info.value)


def test_only_postgres_is_accepted_and_passwords_are_masked():
    with pytest.raises(ConfigurationError, match="must be PostgreSQL"):
        normalise_url("sqlite:///warehouse.db")
    assert describe("postgresql+psycopg://bot:s3cret@db/w") == "postgresql+psycopg://bot:***@db/w"


# ---- issue 18: stopping the embedded warehouse after its users were killed ----------------------------


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _start_embedded_user(state: Path) -> subprocess.Popen:
    """A process that opened the embedded warehouse under ``state`` (and sleeps, holding it).

    pgserver gives PostgreSQL 10 seconds to start, which a loaded machine can miss: up to three tries.
    """
    errors = []
    for _ in range(3):
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time; from pathlib import Path;"
                " from tsa_bot.warehouse.engine import embedded_url;"
                " print(embedded_url(Path(sys.argv[1])), flush=True); time.sleep(600)",
                str(state),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if child.stdout.readline().startswith("postgresql://"):
            return child
        child.kill()
        errors.append(child.communicate(timeout=10)[1][-2000:])
    pytest.fail("the embedded warehouse did not start:\n" + "\n".join(errors))


@contextmanager
def _embedded_user(state: Path) -> Iterator[subprocess.Popen]:
    """A real process holding the embedded warehouse under ``state``; afterwards it and the server are gone,
    whatever the test did."""
    child = _start_embedded_user(state)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        postmaster = _postmaster_pid(state / "pgdata")
        if postmaster and psutil.pid_exists(postmaster):
            os.kill(postmaster, signal.SIGTERM)


def _use_state(monkeypatch: pytest.MonkeyPatch, state: Path) -> None:
    monkeypatch.setenv("TSABOT_STATE_DIR", str(state))
    get_settings.cache_clear()


@pytest.mark.timeout(120)
def test_stop_after_its_users_were_killed_stops_the_server_and_says_so(tmp_path, monkeypatch, capsys):
    """A process that opened the embedded warehouse is killed with ``kill -9``: pgserver's handle list still
    names it, and ``tsabot warehouse stop`` used to say "no embedded warehouse runs" and leave it running."""
    state = tmp_path / "state"
    data_dir = state / "pgdata"
    with _embedded_user(state) as child:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        postmaster = _postmaster_pid(data_dir)
        assert postmaster and psutil.pid_exists(postmaster)
        assert child.pid in json.loads((data_dir / ".handle_pids.json").read_text())

        _use_state(monkeypatch, state)
        assert main(["warehouse", "stop"]) == 0
        assert capsys.readouterr().out == "stopped the embedded warehouse\n"
        assert (
            not psutil.pid_exists(postmaster) or psutil.Process(postmaster).status() == psutil.STATUS_ZOMBIE
        )
        assert not (data_dir / "postmaster.pid").exists()
        # Stopped, it says so, truthfully.
        assert main(["warehouse", "stop"]) == 0
        assert capsys.readouterr().out == f"no embedded warehouse runs in {state}\n"


@pytest.mark.timeout(120)
def test_stop_refuses_while_a_live_process_still_uses_it(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    with _embedded_user(state) as child:
        _use_state(monkeypatch, state)
        assert main(["warehouse", "stop"]) == 2
        assert capsys.readouterr().err == (
            f"tsabot: error: the embedded warehouse in {state} is in use by process {child.pid}: "
            "stop it first (or make down)\n"
        )
        assert psutil.pid_exists(_postmaster_pid(state / "pgdata"))


@pytest.mark.timeout(120)
def test_make_down_after_its_users_were_killed_stops_the_server_too(tmp_path, monkeypatch, capsys):
    """``make down`` is ``tsabot airflow down``: after a crash it left PostgreSQL running, silently."""
    state = tmp_path / "state"
    with _embedded_user(state) as child:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        postmaster = _postmaster_pid(state / "pgdata")
        _use_state(monkeypatch, state)
        assert main(["airflow", "down"]) == 0
        assert capsys.readouterr().out == "Airflow was not running\nstopped the embedded warehouse\n"
        assert (
            not psutil.pid_exists(postmaster) or psutil.Process(postmaster).status() == psutil.STATUS_ZOMBIE
        )
        assert main(["airflow", "down"]) == 0
        assert capsys.readouterr().out == "Airflow was not running\nthe embedded warehouse was not running\n"
