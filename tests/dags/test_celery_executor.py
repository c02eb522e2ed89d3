"""The daily DAG on the CeleryExecutor: real `airflow celery worker`, Redis broker, PostgreSQL metadata DB.

The scheduler queues each task on Redis (127.0.0.1:6379), a Celery worker runs it and reports through
the api-server's Task Execution API and the result backend in PostgreSQL. Offline TSA pages, the Kalshi
simulator over HTTP, paper trading. Skipped, saying why, only where no Redis answers.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from celery_testkit import celery_airflow, redis_answers
from key_testkit import write_key_file

from tsa_bot.kalshi_sim import EventSeed, running_simulator

pytestmark = pytest.mark.slow

KEY_ID = "3e1f0c2a-9d7b-4c55-8a1e-6b2f4d9c0e17"
SEED = EventSeed(
    event_ticker="KXTSAW-26JAN04", strikes=tuple(range(2_100_000, 2_800_001, 50_000)), center=2_350_000
)
DAILY_TASKS = {
    "ingest",
    "load",
    "quality_gate",
    "forecast",
    "fetch_market",
    "price",
    "decide",
    "place_orders",
    "reconcile",
    "settle",
}


@pytest.fixture
def redis() -> None:
    reason = redis_answers()
    if reason:
        pytest.skip(f"the CeleryExecutor needs a Redis broker: {reason}")


@pytest.fixture
def kalshi_env(tmp_path):
    """The simulator serving the offline week, and the environment a worker needs to reach it."""
    key_file = tmp_path / "kalshi.pem"
    key = write_key_file(key_file)
    with running_simulator(SEED, read_rate=1_000, write_rate=1_000) as sim:
        sim.register_key(KEY_ID, key.public_key(), balance=1_000)
        yield {
            "KALSHI_API_BASE": sim.base_url,
            "KALSHI_KEY_ID": KEY_ID,
            "KALSHI_PRIVATE_KEY_PATH": str(key_file),
        }


def test_the_daily_dag_runs_on_a_celery_worker(redis, scratch_database, warehouse_url, kalshi_env, tmp_path):
    env = {"TSA_WAREHOUSE_URL": warehouse_url, "TSABOT_STATE_DIR": str(tmp_path / "state"), **kalshi_env}
    with (
        scratch_database("tsabot_airflow_meta") as metadata_url,
        celery_airflow(
            tmp_path / "airflow", metadata_url, workers=1, concurrency=2, extra_env=env
        ) as cluster,
    ):
        run = cluster.trigger_and_wait(
            "tsa_daily", {"offline": True, "mode": "paper", "calibration_weeks": 8}, timeout_s=420
        )
        assert run["state"] == "success", cluster.logs()
        tis = cluster.task_instances("tsa_daily", run["dag_run_id"])
        engine = sa.create_engine(metadata_url)
        try:
            with engine.connect() as conn:
                celery_results = conn.execute(
                    sa.text("select status, count(*) from celery_taskmeta group by status")
                ).all()
        finally:
            engine.dispose()

    assert {ti["task_id"] for ti in tis} == DAILY_TASKS
    assert {ti["state"] for ti in tis} == {"success"}
    # Every task went through this cluster's queue, to the Celery worker, whose result backend saw it.
    assert {ti["queue"] for ti in tis} == {cluster.queue}
    assert all(ti["hostname"] for ti in tis)
    # One Celery task per task instance, each taken by the worker (the last may still be closing: STARTED).
    assert sum(n for _, n in celery_results) == len(DAILY_TASKS)
    assert {status for status, _ in celery_results} <= {"SUCCESS", "STARTED"}

    warehouse = sa.create_engine(warehouse_url)
    try:
        with warehouse.connect() as conn:
            forecast = conn.execute(sa.text("select week_start, known_days from forecasts")).one()
            orders = conn.execute(sa.text("select mode, count(*) from trading_orders group by mode")).all()
            decisions = conn.execute(sa.text("select count(*) from trading_decisions")).scalar_one()
    finally:
        warehouse.dispose()
    assert tuple(forecast) == (date(2025, 12, 29), 3)
    assert decisions == len(SEED.strikes)
    assert {mode for mode, _ in orders} <= {"paper"}


def test_where_no_redis_answers_the_reason_says_so():
    from celery_testkit import free_port

    reason = redis_answers(port=free_port())
    assert reason is not None and reason.startswith("no Redis answers at 127.0.0.1:")
