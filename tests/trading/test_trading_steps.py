"""The trading steps one by one, as the DAG's tasks call them (``orchestration.daily``): against the simulator
over HTTP, with a real Postgres. Each step retried after its side effect writes the same rows and never a
second order; a backfill contacts no exchange; a skipped fetch propagates through every later step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from trading_testkit import (
    EVENT,
    FAST_RETRY,
    KEY_ID,
    T225,
    T235,
    rest_order_of_earlier_run,
    run_info,
    save_forecast,
)
from trading_testkit import SEED as FIVE_STRIKE_SEED

from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.hosts import KalshiSettings
from tsa_bot.kalshi_sim import RunningSimulator, running_simulator
from tsa_bot.orchestration import daily
from tsa_bot.trading import store
from tsa_bot.trading.steps import take_snapshot

D = Decimal
SEED = replace(FIVE_STRIKE_SEED, fee_multiplier=D("0.5"))  # the shared event at half the standard fee
# As XCom hands them back: string keys. 2.25 M is cheap (buy YES), 2.35 M is dear (buy NO).
PROBS = {"2200000": 0.90, "2250000": 0.85, "2300000": 0.50, "2350000": 0.10, "2400000": 0.16}
# As the DAG's form sends them: strings and floats.
PARAMS = {
    "mode": "demo",
    "max_order_contracts": "15",
    "max_contracts_per_market": 15.0,
    "max_order_cost": 50,
    "max_event_exposure": "100",
    "max_total_exposure": 200,
    "max_daily_loss": "50",
    "kelly_fraction": "0.25",
    "min_edge": 0.02,
    "kill_switch": False,
    "backfill": False,
}
TABLES = {
    "trading_runs": "run_id",
    "trading_snapshots": "run_id, ticker",
    "trading_quotes": "run_id, ticker",
    "trading_decisions": "run_id, ticker",
    "trading_orders": "client_order_id",
    "trading_fills": "fill_id",
    "trading_rejections": "run_id, ticker, code",
    "trading_positions": "run_id, ticker",
}
VOLATILE = {"created_at", "updated_at", "recorded_at", "finished_at", "started_at"}


@pytest.fixture
def tsim(rsa_key) -> Iterator[RunningSimulator]:
    with running_simulator(SEED, read_rate=10_000, write_rate=10_000) as running:
        running.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        yield running


@pytest.fixture
def kalshi_env(monkeypatch, tsim):
    monkeypatch.setenv("KALSHI_API_BASE", tsim.base_url)
    monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
    monkeypatch.delenv("KALSHI_PRIVATE_KEY_PATH", raising=False)
    for name in ("TSABOT_TRADING_MODE", "TSABOT_LIVE_TRADING_ENABLED", "TSABOT_KILL_SWITCH"):
        monkeypatch.delenv(name, raising=False)
    return tsim


@pytest.fixture
def kalshi(kalshi_env, pem) -> KalshiSettings:
    """The exchange settings a task gets from the Airflow connection: the key in memory."""
    return replace(KalshiSettings.from_env(), private_key_pem=pem)


@pytest.fixture
def forecast(warehouse_engine) -> dict:
    return save_forecast(warehouse_engine, "forecast-1", PROBS)


def dump(engine: sa.Engine) -> dict[str, list[dict]]:
    """Every trading row, minus bookkeeping timestamps."""
    out = {}
    with engine.connect() as conn:
        for table, order in TABLES.items():
            rows = conn.execute(sa.text(f"select * from {table} order by {order}")).mappings()
            out[table] = [{k: v for k, v in r.items() if k not in VOLATILE and k != "id"} for r in rows]
    return out


def order_requests(sim: RunningSimulator) -> list[tuple[str, str]]:
    return [(m, p) for m, p in sim.requests if m in ("POST", "DELETE") and not p.startswith("/sim/")]


def twice(step, *args, engine: sa.Engine, **kwargs) -> dict:
    """Run a step, then retry it: the same answer (bar the placement counts) and the same rows."""
    first = step(*args, **kwargs)
    rows = dump(engine)
    again = step(*args, **kwargs)
    assert dump(engine) == rows, f"{step.__name__} retried changed the warehouse"
    if step is not daily.place_orders:
        assert again == first
    return first


def test_five_steps_in_sequence_each_retried(warehouse_url, warehouse_engine, kalshi_env, kalshi, forecast):
    sim, key = kalshi_env, "tsa_daily/manual__2026-02-11T14:00:00+00:00"
    run = run_info(key, PARAMS)
    common = {"warehouse_url": warehouse_url}

    fetched = twice(daily.fetch_market, run, forecast, engine=warehouse_engine, kalshi=kalshi, **common)
    assert fetched["event_ticker"] == EVENT and fetched["markets"] == 5 and fetched["mode"] == "demo"
    assert fetched["snapshot_id"] == key and "skipped" not in fetched

    priced = twice(daily.price, run, forecast, engine=warehouse_engine, **common)
    assert priced["quotes"] == 5 and priced["best_ticker"] == T235 and priced["best_side"] == "no"
    # NO on 2.35 M at 0.72 (YES bid 0.28); P(YES) is 0.13 once 0.10 and 0.16 are made monotone:
    # 0.87 - 0.72 - fee(0.72, multiplier 0.5) = 0.15 - 0.0071
    assert D(priced["best_edge"]) == D("0.1429")

    decided = twice(daily.decide, run, engine=warehouse_engine, kalshi=kalshi, **common)
    assert (decided["decisions"], decided["buys"], decided["cancelled_stale"]) == (5, 2, 0)

    placed = daily.place_orders(run, kalshi=kalshi, **common)
    assert (placed["orders"], placed["already_placed"], placed["rejected"]) == (2, 0, 0)
    assert D(placed["filled"]) == 30
    rows = dump(warehouse_engine)
    retried = daily.place_orders(run, kalshi=kalshi, **common)
    assert (retried["orders"], retried["already_placed"]) == (0, 2)
    assert dump(warehouse_engine) == rows
    assert len(order_requests(sim)) == 2 and len(sim.exchange.accounts[KEY_ID].orders) == 2

    reconciled = twice(daily.reconcile, run, engine=warehouse_engine, kalshi=kalshi, **common)
    assert (reconciled["fills"], reconciled["positions"], reconciled["resting_orders"]) == (4, 2, 0)
    positions = dump(warehouse_engine)["trading_positions"]
    assert {(p["ticker"], p["position"]) for p in positions} == {(T225, 15), (T235, -15)}
    [run_row] = dump(warehouse_engine)["trading_runs"]
    assert run_row["status"] == "finished" and run_row["summary"]["orders"] == 2
    assert run_row["summary"]["fills"] == 4
    assert set(run_row["steps"]) == {"fetch", "price", "decide", "place", "reconcile"}
    assert len(order_requests(sim)) == 2  # nothing after placement sent an order or a cancel

    # The next day's run of the same event: no stale resting order to cancel, at the per-market cap.
    nxt = run_info("tsa_daily/manual__2026-02-12T14:00:00+00:00", PARAMS)
    daily.fetch_market(nxt, forecast, kalshi=kalshi, **common)
    daily.price(nxt, forecast, **common)
    assert daily.decide(nxt, kalshi=kalshi, **common)["buys"] == 0
    assert daily.place_orders(nxt, kalshi=kalshi, **common)["orders"] == 0
    assert len(order_requests(sim)) == 2

    sim.settle(EVENT, 2_360_000)
    settled = daily.settle_trades(run, date(2026, 2, 15), kalshi=kalshi, **common)
    assert settled["positions_settled"] == 2
    assert daily.settle_trades(run, date(2026, 2, 15), kalshi=kalshi, **common)["positions_settled"] == 0


def test_decide_cancels_stale_resting_orders_of_earlier_runs(
    warehouse_url, warehouse_engine, kalshi_env, kalshi, pem, forecast
):
    sim, common = kalshi_env, {"warehouse_url": warehouse_url, "kalshi": kalshi}
    with KalshiClient(sim.base_url, KEY_ID, private_key_pem=pem, retry=FAST_RETRY) as client:
        coid = rest_order_of_earlier_run(warehouse_engine, client, "run-a", EVENT, T225, 2_250_000)
    run = run_info("run-b", PARAMS)
    daily.fetch_market(run, forecast, **common)
    daily.price(run, forecast, warehouse_url=warehouse_url)
    decided = twice(daily.decide, run, engine=warehouse_engine, **common)
    assert decided["cancelled_stale"] == 1
    assert [m for m, _ in order_requests(sim)] == ["POST", "DELETE"]  # the retry cancelled nothing twice
    [row] = [o for o in dump(warehouse_engine)["trading_orders"] if o["client_order_id"] == coid]
    assert row["status"] == "canceled" and "superseded by run run-b" in row["status_reason"]


def test_load_snapshot_rebuilds_the_snapshot_exactly(warehouse_engine, tsim):
    with KalshiClient(tsim.base_url, retry=FAST_RETRY) as client:
        snapshot = take_snapshot(client, EVENT)
    with warehouse_engine.begin() as conn:
        store.start_run(conn, "snap", "paper", EVENT, "127.0.0.1", {})
        store.save_snapshot(conn, "snap", snapshot)
    with warehouse_engine.begin() as conn:
        loaded = store.load_snapshot(conn, "snap")
        assert store.load_snapshot(conn, "no-such-run") is None
    assert loaded == snapshot
    assert [b.ticker for b in loaded.books] == [b.ticker for b in snapshot.books]
    assert loaded.fees.fee_multiplier == D("0.5") and loaded.taken_at == snapshot.taken_at


def test_paper_steps_read_the_market_then_use_only_the_local_book(
    warehouse_url, warehouse_engine, kalshi_env, forecast
):
    sim, run = kalshi_env, run_info("p-1", {**PARAMS, "mode": "paper"})
    common = {"warehouse_url": warehouse_url}
    assert daily.fetch_market(run, forecast, **common)["markets"] == 5
    reads = len(sim.requests)
    daily.price(run, forecast, **common)
    twice(daily.decide, run, engine=warehouse_engine, **common)
    placed = daily.place_orders(run, **common)
    assert placed["orders"] == 2 and D(placed["filled"]) == 30
    assert daily.place_orders(run, **common)["already_placed"] == 2
    assert twice(daily.reconcile, run, engine=warehouse_engine, **common)["positions"] == 2
    assert len(sim.requests) == reads  # after the snapshot the paper book needs no exchange
    assert order_requests(sim) == [] and sim.exchange.accounts[KEY_ID].orders == []


def test_backfill_contacts_no_exchange_and_reuses_a_stored_snapshot(
    warehouse_url, warehouse_engine, kalshi_env, forecast
):
    sim = kalshi_env
    live_run = daily.fetch_market(
        run_info("daily-1", {**PARAMS, "mode": "paper"}), forecast, warehouse_url=warehouse_url
    )
    taken_at = datetime.fromisoformat(live_run["taken_at"])
    served = len(sim.requests)

    # Whatever the params say, a backfill is paper and contacts nothing.
    params = {**PARAMS, "mode": "live", "live": True, "backfill": True}
    common = {"warehouse_url": warehouse_url}
    key = "tsa_daily/backfill__2026-02-11"
    run = run_info(key, params, when=taken_at + timedelta(minutes=1))
    fetched = twice(daily.fetch_market, run, forecast, engine=warehouse_engine, **common)
    assert fetched["mode"] == "paper" and fetched["snapshot_source_run"] == "daily-1"
    assert fetched["markets"] == 5 and datetime.fromisoformat(fetched["taken_at"]) == taken_at
    with warehouse_engine.begin() as conn:
        assert store.load_snapshot(conn, key) == store.load_snapshot(conn, "daily-1")
    daily.price(run, forecast, **common)
    assert daily.decide(run, **common)["buys"] == 2
    assert daily.place_orders(run, **common)["orders"] == 2
    assert daily.reconcile(run, **common)["positions"] == 2
    assert "skipped" in daily.settle_trades(run, date(2026, 2, 15), **common)
    assert len(sim.requests) == served  # not one request during the backfill
    assert {o["mode"] for o in dump(warehouse_engine)["trading_orders"]} == {"paper"}


def test_backfill_without_a_stored_snapshot_skips_every_step(
    warehouse_url, warehouse_engine, kalshi_env, forecast
):
    sim = kalshi_env
    as_of = datetime(2026, 2, 11, 14, tzinfo=UTC)
    run = run_info("bf-1", {"backfill": "true"}, when=as_of)
    common = {"warehouse_url": warehouse_url}
    fetched = twice(daily.fetch_market, run, forecast, engine=warehouse_engine, **common)
    assert fetched["skipped"] == f"no market snapshot recorded for {EVENT} by {as_of.isoformat()}"
    for step in (daily.decide, daily.place_orders, daily.reconcile):
        assert step(run, **common)["skipped"] == fetched["skipped"]
    assert daily.price(run, forecast, **common)["skipped"] == fetched["skipped"]
    assert sim.requests == []
    [row] = dump(warehouse_engine)["trading_runs"]
    assert row["status"] == "skipped" and row["backfill"] and row["api_host"] == "warehouse"


@pytest.mark.parametrize("halted", [False, True])
def test_a_skipped_fetch_propagates_cleanly(
    warehouse_url, warehouse_engine, kalshi_env, kalshi, forecast, halted
):
    sim = kalshi_env
    sim.exchange.trading_active = not halted
    common = {"warehouse_url": warehouse_url, "kalshi": kalshi}
    run = run_info("skip-1", PARAMS)
    # Halted: this week's event; otherwise a week with no event listed (a 404).
    week = forecast if halted else {**forecast, "week_start": "2026-03-04"}
    fetched = daily.fetch_market(run, week, **common)
    if halted:
        assert fetched["skipped"] == "exchange not trading"
    else:
        assert fetched["skipped"].startswith("event KXTSAW-26MAR08 not found on 127.0.0.1")
    assert daily.fetch_market(run, week, **common) == fetched
    assert daily.price(run, forecast, warehouse_url=warehouse_url)["skipped"] == fetched["skipped"]
    for step in (daily.decide, daily.place_orders, daily.reconcile):
        assert step(run, **common)["skipped"] == fetched["skipped"]
    assert order_requests(sim) == []
    tables = dump(warehouse_engine)
    assert tables["trading_runs"][0]["status"] == "skipped" and tables["trading_decisions"] == []


def test_a_step_before_fetch_or_with_another_mode_is_refused(warehouse_url, kalshi, forecast):
    from tsa_bot.core.errors import ConfigurationError

    common = {"warehouse_url": warehouse_url, "kalshi": kalshi}
    with pytest.raises(ConfigurationError, match="fetch_market must run first"):
        daily.decide(run_info("never-fetched", PARAMS), **common)
    daily.fetch_market(run_info("m-1", PARAMS), forecast, **common)
    with pytest.raises(ConfigurationError, match="started in demo mode"):
        daily.decide(run_info("m-1", {**PARAMS, "mode": "paper"}), **common)
    with pytest.raises(ConfigurationError, match="has no quotes: the price task must run first"):
        daily.decide(run_info("m-1", PARAMS), **common)
    with pytest.raises(ConfigurationError, match="has no decisions: the decide task must run first"):
        daily.place_orders(run_info("m-1", PARAMS), **common)


def test_seeding_a_demo_week(tsim):
    ticker = tsim.seed_week(date(2025, 12, 29), 2_450_000)
    assert ticker == "KXTSAW-26JAN04"
    with KalshiClient(tsim.base_url, retry=FAST_RETRY) as client:
        event = client.event(ticker)
        strikes = [m.floor_strike for m in event.markets]
        assert len(strikes) == 21 and strikes[0] == 1_950_000 and strikes[-1] == 2_950_000
        book = client.orderbook(f"{ticker}-A2.45")
    assert book.yes_bids[0].price == D("0.48") and book.no_bids[0].price == D("0.48")  # mid 0.50
