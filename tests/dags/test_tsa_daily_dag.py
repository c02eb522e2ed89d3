"""The daily DAG, run for real with dag.test() against a local TSA site and a real warehouse."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from airflow.utils.state import DagRunState, TaskInstanceState

from tsa_bot.core.records import DailyCount
from tsa_bot.sources.offline import CURRENT_PATH, render_page, site_pages

pytestmark = pytest.mark.slow

# These tests are about ingest and load; the later tasks are marked successful without running.
INGEST_ONLY = "^(quality_gate|forecast|fetch_market|price|decide|place_orders|reconcile|settle)$"


@pytest.fixture
def dag(tsa_daily_dag):
    return tsa_daily_dag


def _task_states(run) -> dict[str, TaskInstanceState]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_dag_loads_the_site_into_the_warehouse(dag, tsa_env, warehouse_engine):
    from tsa_bot.sources.offline import serve_pages

    with serve_pages(site_pages()) as site:
        tsa_env(site.base_url)
        run = dag.test(logical_date=None, mark_success_pattern=INGEST_ONLY)
    assert run.state == DagRunState.SUCCESS, _task_states(run)
    with warehouse_engine.connect() as conn:
        days = conn.execute(sa.text("select count(*) from tsa_daily")).scalar_one()
        run_row = conn.execute(sa.text("select run_key, rows_new, newest_date from ingest_runs")).one()
    assert days == 2557
    assert run_row.rows_new == 2557 and run_row.newest_date == date(2025, 12, 31)
    assert run_row.run_key.startswith("tsa_daily/")
    # Eight pages: seven year pages and the current one, each fetched once with a browser User-Agent.
    assert len(site.requests) == 8
    assert all(agent.startswith("Mozilla/5.0") for _, agent in site.requests)


def test_manual_run_without_logical_date_fetches_only_the_current_page(dag, tsa_env, warehouse_engine):
    from tsa_bot.sources.offline import serve_pages

    pages = site_pages()
    with serve_pages(pages) as site:
        tsa_env(site.base_url)
        first = dag.test(logical_date=None, mark_success_pattern=INGEST_ONLY)
        # TSA revises a day in its current page; the next manual run records the revision.
        revised_rows = [DailyCount(date(2025, 12, 30), 2_500_000), DailyCount(date(2025, 12, 31), 2_291_360)]
        site.pages[CURRENT_PATH] = render_page(revised_rows, newest_first=True)
        second = dag.test(logical_date=None, mark_success_pattern=INGEST_ONLY)
    assert first.state == DagRunState.SUCCESS and second.state == DagRunState.SUCCESS, _task_states(second)
    assert first.logical_date is None
    assert [path for path, _ in site.requests].count(CURRENT_PATH) == 2
    assert len(site.requests) == 9  # the second run did not re-fetch the complete years
    with warehouse_engine.connect() as conn:
        row = conn.execute(
            sa.text("select first_value, latest_value from tsa_daily where day = '2025-12-30'")
        ).one()
        revisions = conn.execute(sa.text("select count(*) from tsa_revisions")).scalar_one()
    assert revisions == 1
    assert row.latest_value == 2_500_000 and row.first_value != 2_500_000


def test_changed_page_layout_fails_fast_without_retries(dag, tsa_env, warehouse_engine):
    from tsa_bot.sources.offline import serve_pages

    pages = {path: html.replace(">Date<", ">Day<") for path, html in site_pages().items()}
    with serve_pages(pages) as site:
        tsa_env(site.base_url)
        run = dag.test(logical_date=None, mark_success_pattern=INGEST_ONLY)
    assert run.state == DagRunState.FAILED
    ingest = next(ti for ti in run.get_task_instances() if ti.task_id == "ingest")
    assert ingest.state == TaskInstanceState.FAILED
    assert ingest.try_number == 1  # a layout change is not retried
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from tsa_daily")).scalar_one() == 0


def test_offline_param_serves_the_shipped_pages_inside_the_task(dag, tsa_env, warehouse_engine):
    tsa_env("http://127.0.0.1:9")  # tsa.gov stand-in that refuses connections: offline must not use it
    run = dag.test(logical_date=None, run_conf={"offline": True}, mark_success_pattern=INGEST_ONLY)
    assert run.state == DagRunState.SUCCESS, _task_states(run)
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from tsa_daily")).scalar_one() == 2557
