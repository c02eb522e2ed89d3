"""Which warehouse the bot uses: explicit URL, then TSA_WAREHOUSE_URL, then Airflow's tsa_warehouse."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tsa_bot.core.config import get_settings
from tsa_bot.core.errors import ConfigurationError, WarehouseUnavailable
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
