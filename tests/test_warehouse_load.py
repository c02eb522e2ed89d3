"""Loads into a real PostgreSQL: vintages, revisions, idempotency, atomicity, and a cut connection."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tsa_bot.core.errors import ValidationError, WarehouseUnavailable
from tsa_bot.core.records import DailyCount, FetchedPage
from tsa_bot.sources.ingest import load_tsa
from tsa_bot.sources.offline import render_page
from tsa_bot.warehouse.tsa_daily import load_batch, store_raw_pages

TODAY = date(2026, 11, 24)
T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
BATCH = [DailyCount(date(2025, 12, 1) + timedelta(days=k), 2_400_000 + 10_000 * k) for k in range(21)]


def snapshot(engine: sa.Engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(sa.text(f"select * from {table} order by 1"))]
            for table in ("tsa_daily", "tsa_revisions", "ingest_runs")
        }


def load(engine, batch, *, at=T0, key="run-1"):
    return load_batch(engine, batch, seen_at=at, run_key=key, pages=["page"])


def test_loading_the_same_batch_twice_only_moves_last_seen(warehouse_engine):
    vintage = sa.text(
        "select day, first_value, first_seen, first_ingest_run_id, latest_value, revision_count"
        " from tsa_daily order by day"
    )
    first = load(warehouse_engine, BATCH)
    with warehouse_engine.connect() as conn:
        before = conn.execute(vintage).all()
    second = load(warehouse_engine, BATCH, at=T0 + timedelta(days=1), key="run-2")
    with warehouse_engine.connect() as conn:
        after = conn.execute(vintage).all()
        last_seen = conn.execute(
            sa.text("select distinct last_seen, last_ingest_run_id from tsa_daily")
        ).all()
        revisions = conn.execute(sa.text("select count(*) from tsa_revisions")).scalar_one()

    assert (first.rows_new, first.rows_unchanged) == (21, 0)
    assert (second.rows_new, second.rows_revised, second.rows_unchanged) == (0, 0, 21)
    assert after == before and len(after) == 21
    assert last_seen == [(T0 + timedelta(days=1), second.ingest_run_id)]
    assert revisions == 0


def test_a_revision_is_recorded_and_the_first_published_value_kept(warehouse_engine):
    load(warehouse_engine, BATCH)
    revised_day = BATCH[3].day
    revised = [DailyCount(r.day, 2_555_555) if r.day == revised_day else r for r in BATCH]
    later = T0 + timedelta(days=30)
    summary = load(warehouse_engine, revised, at=later, key="run-2")

    assert (summary.rows_revised, summary.rows_unchanged) == (1, 20)
    with warehouse_engine.connect() as conn:
        day = conn.execute(sa.text("select * from tsa_daily where day = :d"), {"d": revised_day}).one()
        revision = conn.execute(sa.text("select * from tsa_revisions")).one()
    assert (day.first_value, day.first_seen) == (BATCH[3].passengers, T0)
    assert (day.latest_value, day.last_seen, day.revision_count) == (2_555_555, later, 1)
    assert (revision.day, revision.previous_value, revision.new_value) == (
        revised_day,
        BATCH[3].passengers,
        2_555_555,
    )
    assert revision.ingest_run_id == summary.ingest_run_id


def _stored(engine, rows, at=T0) -> list[int]:
    return store_raw_pages(
        engine, [FetchedPage("http://tsa.test/travel/passenger-volumes", at, render_page(rows))]
    )


def test_a_failing_batch_leaves_every_table_unchanged(warehouse_url, warehouse_engine):
    load_tsa(_stored(warehouse_engine, BATCH), run_key="good", today=TODAY, warehouse_url=warehouse_url)
    before = snapshot(warehouse_engine)
    bad = [*BATCH[:-1], DailyCount(BATCH[-1].day, 260_000)]  # a dropped digit
    with pytest.raises(ValidationError, match="2025-12-20->2025-12-21"):
        load_tsa(_stored(warehouse_engine, bad), run_key="bad", today=TODAY, warehouse_url=warehouse_url)
    assert snapshot(warehouse_engine) == before


def test_a_retried_run_with_the_same_pages_is_a_no_op(warehouse_url, warehouse_engine):
    page_ids = _stored(warehouse_engine, BATCH)
    first = load_tsa(page_ids, run_key="dag/run", today=TODAY, warehouse_url=warehouse_url)
    before = snapshot(warehouse_engine)
    again = load_tsa(page_ids, run_key="dag/run", today=TODAY, warehouse_url=warehouse_url)
    assert again == first and first["rows_new"] == 21
    assert snapshot(warehouse_engine) == before


def test_a_connection_cut_mid_load_rolls_back_and_the_retry_succeeds(warehouse_url, pg_admin_url):
    engine = sa.create_engine(warehouse_url)
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    load(engine, BATCH[:7])
    before = snapshot(engine)
    cut = []

    def kill_backend_before_upsert(conn, cursor, statement, parameters, context, executemany):
        if "insert into tsa_daily" in statement and not cut:
            pid = conn.exec_driver_sql("select pg_backend_pid()").scalar_one()
            with admin.connect() as killer:
                killer.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
            cut.append(pid)

    event.listen(engine, "before_cursor_execute", kill_backend_before_upsert)
    try:
        with pytest.raises(WarehouseUnavailable, match="rolled back; nothing was written"):
            load(engine, BATCH, key="run-2")
    finally:
        event.remove(engine, "before_cursor_execute", kill_backend_before_upsert)
    assert cut, "the connection was never cut"
    assert snapshot(engine) == before  # the revisions and the run row staged before the cut are gone

    retried = load(engine, BATCH, key="run-2")
    assert (retried.rows_new, retried.rows_unchanged) == (14, 7)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from tsa_daily")).scalar_one() == 21
    engine.dispose()
    admin.dispose()
