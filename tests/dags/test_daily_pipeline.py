"""The whole daily DAG with dag.test(): offline TSA pages, a real warehouse, the Kalshi simulator over HTTP.

Offline, the run acts just after the page set's last day (Wednesday 2025-12-31) was published: the
week of Monday 2025-12-29 with three days known, event KXTSAW-26JAN04.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa
from airflow.utils.state import DagRunState, TaskInstanceState
from key_testkit import write_key_file

from tsa_bot.kalshi_sim import EventSeed, running_simulator

pytestmark = pytest.mark.slow

EVENT = "KXTSAW-26JAN04"
KEY_ID = "7d3c7c1e-4b8a-4e59-9c43-0a7c3d1f5e21"
# Priced as if the market expected 2.35M: well below what the first days of that week show.
SEED = EventSeed(event_ticker=EVENT, strikes=tuple(range(2_100_000, 2_800_001, 50_000)), center=2_350_000)
FAST = {"offline": True, "calibration_weeks": 8}


@pytest.fixture
def dag(tsa_daily_dag):
    return tsa_daily_dag


@pytest.fixture
def exchange(tsa_env, monkeypatch, tmp_path):
    key_file = tmp_path / "kalshi.pem"
    key = write_key_file(key_file)
    with running_simulator(SEED, read_rate=1_000, write_rate=1_000) as sim:
        sim.register_key(KEY_ID, key.public_key(), balance=1_000)
        monkeypatch.setenv("KALSHI_API_BASE", sim.base_url)
        monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
        monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_file))
        yield sim


def exchange_orders(sim) -> list:
    """Orders the simulator holds for our key (resting, executed or cancelled)."""
    return list(sim.exchange.accounts[KEY_ID].orders)


def states(run) -> dict[str, TaskInstanceState]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def test_a_green_offline_run_forecasts_prices_and_paper_trades(dag, exchange, warehouse_engine):
    run = dag.test(logical_date=None, run_conf=FAST)

    assert run.state == DagRunState.SUCCESS, states(run)
    assert set(states(run).values()) == {TaskInstanceState.SUCCESS}
    with warehouse_engine.connect() as conn:
        forecast = conn.execute(sa.text("select * from forecasts")).one()
    assert (forecast.week_start, forecast.known_days) == (date(2025, 12, 29), 3)
    assert count(warehouse_engine, "select count(*) from trading_runs where event_ticker = :e", e=EVENT) == 1
    assert count(warehouse_engine, "select count(*) from trading_quotes") == len(SEED.strikes)
    assert count(warehouse_engine, "select count(*) from trading_decisions") == len(SEED.strikes)
    # The market is priced far below the forecast: the bot buys YES somewhere, on paper only.
    assert count(warehouse_engine, "select count(*) from trading_decisions where action = 'buy_yes'") > 0
    assert count(warehouse_engine, "select count(*) from trading_orders where mode <> 'paper'") == 0
    assert exchange_orders(exchange) == []


def test_a_retried_order_task_never_doubles_an_order(dag, exchange, warehouse_engine):
    """Demo mode on the simulator: the first order is accepted, reading its fills then fails past the
    client's retry budget (5 attempts), so the task fails after its side effect and Airflow retries it."""
    exchange.inject("GET", "/portfolio/fills", "500", times=5)
    run = dag.test(logical_date=None, run_conf={**FAST, "mode": "demo"})

    assert run.state == DagRunState.SUCCESS, states(run)
    place = next(ti for ti in run.get_task_instances() if ti.task_id == "place_orders")
    assert place.try_number > 1  # it failed after its side effect and was retried
    placed = Counter(o.client_order_id for o in exchange_orders(exchange))
    assert placed and max(placed.values()) == 1
    recorded = Counter(
        r[0]
        for r in warehouse_engine.connect().execute(sa.text("select client_order_id from trading_orders"))
    )
    assert set(recorded) == set(placed) and max(recorded.values()) == 1


def test_backfill_replays_two_weeks_point_in_time_without_duplicates(
    dag, exchange, warehouse_engine, shared_csv
):
    """Past-dated runs replay: no scraping, forecasts from what was published by then, paper only."""
    import pandas as pd
    import pendulum

    from tsa_bot.forecast.data import load_csv
    from tsa_bot.forecast.forecaster import forecast
    from tsa_bot.sources.ingest import fetch_tsa, load_tsa

    load_tsa(fetch_tsa(offline=True)["page_ids"], run_key="history")
    days = [pendulum.datetime(2025, 6, 2, 9, 30, tz="America/New_York").add(days=k) for k in range(14)]
    conf = {"calibration_weeks": 8}
    for day in days:
        run = dag.test(logical_date=day, run_conf=conf)
        assert run.state == DagRunState.SUCCESS, (day, states(run))
    rows_after_first_pass = {
        table: count(warehouse_engine, f"select count(*) from {table}")
        for table in ("forecasts", "forecast_strike_probs", "trading_runs", "ingest_runs", "tsa_daily")
    }
    # A re-run of the same backfill days finds its rows again.
    for day in days[:2]:
        assert dag.test(logical_date=day, run_conf=conf).state == DagRunState.SUCCESS
    assert rows_after_first_pass == {
        table: count(warehouse_engine, f"select count(*) from {table}") for table in rows_after_first_pass
    }
    assert rows_after_first_pass["forecasts"] == 14 and rows_after_first_pass["ingest_runs"] == 1

    # Point in time: each stored forecast equals one made from the CSV cut at that run's morning, and
    # Tuesday 2025-06-03 09:30 knew Monday's number but not Tuesday's.
    series = load_csv(shared_csv)
    with warehouse_engine.connect() as conn:
        stored = conn.execute(
            sa.text("select week_start, known_days, mean from forecasts order by week_start, known_days")
        ).all()
    tuesday = next(f for f in stored if f.week_start == date(2025, 6, 2) and f.known_days == 1)
    direct = forecast(
        series[series.index < pd.Timestamp("2025-06-03")], date(2025, 6, 3), calibration_weeks=8
    )
    assert tuesday.mean == pytest.approx(direct.mean, rel=1e-9)
    # Saturday and Sunday mornings know no more than Friday's: Thursday's number is the newest.
    assert [f.known_days for f in stored if f.week_start == date(2025, 6, 2)] == [0, 1, 2, 3, 4, 4, 4]
    assert (
        exchange_orders(exchange) == []
        and count(warehouse_engine, "select count(*) from trading_orders where mode <> 'paper'") == 0
    )
