"""Database failures are typed one-line errors: a connection cut in migrate(), a read-only role, bad data.

Real PostgreSQL: a real backend terminated mid-migration, real roles without write rights.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cli_testkit import assert_one_line_error, clean_env, run  # noqa: F401 - clean_env is a fixture
from sqlalchemy import event
from sqlalchemy.engine import make_url

from tsa_bot.core import errors
from tsa_bot.core.records import FetchedPage
from tsa_bot.warehouse.migrate import available_migrations, migrate
from tsa_bot.warehouse.tsa_daily import store_raw_pages


def _admin(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_a_connection_cut_during_migrate_is_one_retryable_line_and_the_rerun_completes(
    empty_database_url, pg_admin_url
):
    engine = sa.create_engine(empty_database_url)
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    third = available_migrations()[2]
    cut = []

    def kill_backend_in_the_third_migration(conn, cursor, statement, parameters, context, executemany):
        if statement == third.path.read_text() and not cut:
            pid = conn.exec_driver_sql("select pg_backend_pid()").scalar_one()
            with admin.connect() as killer:
                killer.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
            cut.append(pid)

    event.listen(engine, "before_cursor_execute", kill_backend_in_the_third_migration)
    try:
        expected = f"applying migration {third.path.name}"
        with pytest.raises(errors.WarehouseUnavailable, match=expected) as info:
            migrate(engine)
    finally:
        event.remove(engine, "before_cursor_execute", kill_backend_in_the_third_migration)
    assert cut, "the connection was never cut"
    assert "\n" not in str(info.value) and info.value.retryable
    with engine.connect() as conn:
        applied = conn.execute(sa.text("select version from schema_migrations order by 1")).scalars().all()
    assert applied == [1, 2]  # the cut migration left nothing half-applied

    assert migrate(engine) == [m.version for m in available_migrations()[2:]]
    engine.dispose()
    admin.dispose()


@pytest.fixture(params=["select-only", "read-only-transactions"])
def read_only_url(request, warehouse_url, pg_admin_url) -> Iterator[str]:
    """A login role on the migrated test warehouse that cannot write: by its grants, or by its settings."""
    role = f"tsabot_reader_{uuid.uuid4().hex[:10]}"
    grants = (
        [f"grant select on all tables in schema public to {role}"]
        if request.param == "select-only"
        else [
            f"grant all on all tables in schema public to {role}",
            f"grant all on all sequences in schema public to {role}",
            f"grant create on schema public to {role}",
            f"alter role {role} set default_transaction_read_only = on",
        ]
    )
    _admin(pg_admin_url, f"create role {role} login")
    _admin(warehouse_url, *grants)
    try:
        yield make_url(warehouse_url).set(username=role, password=None).render_as_string(False)
    finally:
        from tsa_bot.warehouse.engine import _engine_for

        _engine_for.cache_clear()
        _admin(warehouse_url, f"drop owned by {role}")
        _admin(pg_admin_url, f"drop role if exists {role}")


def test_warehouse_status_works_for_a_read_only_role(capsys, read_only_url):
    code, out, err = run(capsys, "warehouse", "status", "--warehouse-url", read_only_url)
    assert (code, err) == (0, "")
    assert "tsa_daily: 0 days" in out


def test_ingest_with_a_read_only_role_fails_with_one_line_and_writes_nothing(
    capsys, read_only_url, warehouse_engine
):
    code, _, err = run(capsys, "ingest", "--offline", "--warehouse-url", read_only_url)
    assert_one_line_error(code, err, "warehouse role may not", "storing raw pages")
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from tsa_raw_pages")).scalar_one() == 0


def test_a_read_only_role_on_an_unmigrated_warehouse_is_one_line(capsys, empty_database_url, pg_admin_url):
    role = f"tsabot_reader_{uuid.uuid4().hex[:10]}"
    _admin(pg_admin_url, f"create role {role} login")
    url = make_url(empty_database_url).set(username=role, password=None).render_as_string(False)
    try:
        code, _, err = run(capsys, "warehouse", "status", "--warehouse-url", url)
    finally:
        from tsa_bot.warehouse.engine import _engine_for

        _engine_for.cache_clear()
        _admin(pg_admin_url, f"drop role if exists {role}")
    assert_one_line_error(code, err, "warehouse role may not", "schema_migrations")


def test_a_page_the_warehouse_refuses_is_one_line_without_the_page(warehouse_engine):
    html = "<html><body><table><tr><th>Date</th><th>Numbers</th></tr>\x00" + "SECRET-PAGE-TEXT " * 500
    page = FetchedPage("http://tsa.test/travel/passenger-volumes", datetime.now(UTC), html)
    with pytest.raises(getattr(errors, "WarehouseRejected", errors.TsaBotError), match="NUL") as info:
        store_raw_pages(warehouse_engine, [page])
    assert "\n" not in str(info.value) and "SECRET-PAGE-TEXT" not in str(info.value)
    assert not info.value.retryable
