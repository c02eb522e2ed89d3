"""The four ways the trading core was found to lose money, each driven the way the DAG drives it: the
``tsa_bot.orchestration.daily`` task functions, real HTTP to the simulator, a real Postgres.

1. Two runs at once must not exceed the event exposure limit between them.
2. An order whose create response was lost, and whose every look-up failed, is adopted by a later run.
3. A retry after a partial placement counts its own orders once.
4. The production guard compares normalised hosts: ideographic dots, case, trailing dot, port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from trading_testkit import EVENT, FAST_RETRY, KEY_ID, T225, T235, save_forecast

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import in_event
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.errors import KalshiError, ProductionHostRefused
from tsa_bot.kalshi.factories import client_for_mode
from tsa_bot.kalshi.hosts import KalshiSettings, check_mode_host
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.kalshi_sim import Exchange
from tsa_bot.orchestration import daily
from tsa_bot.trading.config import TradingConfig, TradingMode

D = Decimal
# 2.25 M is cheap (buy YES), 2.35 M is dear (buy NO); the other strikes are fairly priced.
PROBS = {2_200_000: 0.90, 2_250_000: 0.85, 2_300_000: 0.50, 2_350_000: 0.10, 2_400_000: 0.16}
DEMO = {
    "mode": "demo",
    "max_order_contracts": 15,
    "max_contracts_per_market": 100,
    "max_order_cost": 50,
    "max_total_exposure": 500,
    "max_daily_loss": 50,
}
HELPER = Path(__file__).with_name("overlapping_run.py")


def run_info(key: str, params: dict, hour: int = 14) -> daily.RunInfo:
    return daily.RunInfo(key, datetime(2026, 2, 11, hour, tzinfo=UTC), False, params)


def trade_until_placed(run: daily.RunInfo, forecast: dict) -> dict:
    daily.fetch_market(run, forecast)
    daily.price(run, forecast)
    daily.decide(run)
    return daily.place_orders(run)


def rows(engine: sa.Engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def event_exposure(client: KalshiClient) -> Decimal:
    """Money at risk in the event as the exchange sees it: open positions plus resting collateral."""
    held = sum(
        (p.market_exposure_dollars for p in client.positions().market_positions if in_event(p.ticker, EVENT)),
        D(0),
    )
    resting = sum(
        (
            o.remaining_count_fp * (o.yes_price_dollars if o.book_side == "bid" else o.no_price_dollars)
            for o in client.orders(event_ticker=EVENT, status="resting")
        ),
        D(0),
    )
    return held + resting


# ---- 1. overlapping runs ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_runs_at_once_stay_within_the_event_exposure_limit(
    worker_env, warehouse_engine, tclient, monkeypatch, tmp_path
):
    """Two worker processes run the trading tasks of two DAG runs at the same moment, the exchange 150 ms
    away. One run's orders fit the $30 limit; both runs' would not."""
    real = Exchange.take_fault

    def slow(self, method, path):  # every request to the exchange takes 150 ms
        time.sleep(0.15)
        return real(self, method, path)

    monkeypatch.setattr(Exchange, "take_fault", slow)
    params = {**DEMO, "max_event_exposure": 30}
    forecast = save_forecast(warehouse_engine, "forecast-1", PROBS)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, str(HELPER), key, json.dumps(params), json.dumps(forecast), str(barrier)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        for key in ("tsa_daily/run-a", "tsa_daily/run-b")
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["orders"] for r in results) >= 2  # both ran and traded
    assert event_exposure(tclient) <= 30
    # Whichever run came second saw the first one's orders: refused at placement, or sized down.
    refused = rows(warehouse_engine, "select code from trading_rejections where code = 'event_exposure'")
    sized = rows(
        warehouse_engine, "select reason from trading_decisions where reason like '%event_exposure%'"
    )
    assert refused or sized


# ---- 2. a lost create response, every look-up failing ------------------------------------------------------


@pytest.mark.slow
def test_an_order_whose_response_and_lookups_were_lost_is_adopted_by_a_later_run(
    worker_env, warehouse_engine, tclient, rsa_key, monkeypatch
):
    """The create-order answer is lost and every look-up by client_order_id fails through all retries:
    the task fails with the order resting on the exchange."""
    sim = worker_env
    forecast = save_forecast(warehouse_engine, "forecast-1", PROBS)
    first = run_info("tsa_daily/day-1", {**DEMO, "max_event_exposure": 100})
    daily.fetch_market(first, forecast)
    daily.price(first, forecast)
    daily.decide(first)
    # Someone else takes the YES asks of 2.25 M before we place: our YES bid will rest, unfilled.
    sim.register_key("other", rsa_key.public_key(), balance=1000)
    other_client = KalshiClient(sim.base_url, "other", private_key=rsa_key, retry=FAST_RETRY)
    with other_client:
        other_client.create_order(OrderRequest(T225, "other-1", "bid", D(20), D("0.73")))

    real_create = Exchange.create_order

    def lose_every_lookup(self, account, body):
        # The order is on the book; from now on every look-up of it fails (its answer is dropped too).
        answer = real_create(self, account, body)
        self.inject("GET", "/portfolio/orders", "500", times=10_000)
        return answer

    sim.inject("POST", "/portfolio/events/orders", "drop_after")
    with monkeypatch.context() as patch:
        patch.setattr(Exchange, "create_order", lose_every_lookup)
        with pytest.raises(KalshiError):
            daily.place_orders(first)
    sim.exchange.faults.clear()
    [resting] = [o for o in sim.exchange.accounts[KEY_ID].orders if o.status == "resting"]
    assert resting.ticker == T225

    # The next day's run finds the order, records it and cancels it as stale.
    second = run_info("tsa_daily/day-2", {**DEMO, "max_event_exposure": 100}, hour=15)
    forecast2 = save_forecast(warehouse_engine, "forecast-2", PROBS)
    daily.fetch_market(second, forecast2)
    daily.price(second, forecast2)
    decided = daily.decide(second)
    assert decided["cancelled_stale"] == 1
    [row] = rows(
        warehouse_engine,
        "select * from trading_orders where client_order_id = :c",
        c=resting.client_order_id,
    )
    assert row["order_id"] == resting.order_id and row["run_id"] == "tsa_daily/day-1"
    assert row["status"] == "canceled" and "superseded by run tsa_daily/day-2" in row["status_reason"]
    assert [o.status for o in tclient.orders() if o.order_id == resting.order_id] == ["canceled"]


def test_an_order_of_ours_the_warehouse_never_heard_of_is_adopted_and_counted(
    worker_env, warehouse_engine, tclient
):
    """An order with our recognisable id but no row at all (a warehouse restored from a backup): the
    next run records it, counts it against the limit, and cancels it as stale."""
    from tsa_bot.trading.decide import client_order_id

    coid = client_order_id("tsa_daily/lost-run", T235, "yes")
    tclient.create_order(OrderRequest(T235, coid, "bid", D(20), D("0.20")))  # rests: $4 of collateral
    forecast = save_forecast(warehouse_engine, "forecast-1", PROBS)
    run = run_info("tsa_daily/next", {**DEMO, "max_event_exposure": 100})
    daily.fetch_market(run, forecast)
    daily.price(run, forecast)
    assert daily.decide(run)["cancelled_stale"] == 1
    [row] = rows(warehouse_engine, "select * from trading_orders where client_order_id = :c", c=coid)
    assert row["status"] == "canceled" and row["direction"] == "yes" and row["count"] == 20
    assert [o.status for o in tclient.orders() if o.client_order_id == coid] == ["canceled"]


# ---- 3. a retry after a partial placement --------------------------------------------------------------


def test_a_retry_after_a_partial_placement_counts_its_own_orders_once(worker_env, warehouse_engine, tclient):
    """The first order lands, reading its fills fails past every retry, the task fails; its retry must
    place the second order: $25 holds both (22.00 incl. fees), not the first one counted twice."""
    sim = worker_env
    forecast = save_forecast(warehouse_engine, "forecast-1", PROBS)
    run = run_info("tsa_daily/partial", {**DEMO, "max_event_exposure": 25})
    daily.fetch_market(run, forecast)
    daily.price(run, forecast)
    assert daily.decide(run)["buys"] == 2
    sim.inject("GET", "/portfolio/fills", "500", times=5)
    with pytest.raises(KalshiError):
        daily.place_orders(run)
    assert len(tclient.orders()) == 1

    retried = daily.place_orders(run)
    assert rows(warehouse_engine, "select code, reason from trading_rejections") == []
    positions = {p.ticker: p.position_fp for p in tclient.positions().market_positions}
    assert positions == {T225: 15, T235: -15}
    assert retried["rejected"] == 0
    [summary] = rows(warehouse_engine, "select steps->'place' as place from trading_runs")
    # Both orders were placed by this run for the first time: neither is "already placed".
    assert (summary["place"]["orders"], summary["place"]["already_placed"]) == (2, 0)
    # A further retry sends nothing and refuses nothing.
    again = daily.place_orders(run)
    assert again["rejected"] == 0 and len(tclient.orders()) == 2


# ---- 4. the production guard reads hosts as httpx does ---------------------------------------------------

DISGUISED = [
    "https://external-api\u3002kalshi\u3002com/trade-api/v2",  # ideographic full stops
    "https://external-api\uff0ekalshi\uff0ecom/trade-api/v2",  # full-width full stops
    "https://external-api\uff61kalshi\uff61com/trade-api/v2",  # half-width ideographic full stops
    "https://EXTERNAL-API.KALSHI.COM.:443/trade-api/v2",
    "https://trader@api.elections.kalshi.com/trade-api/v2",
]


@pytest.mark.parametrize("url", DISGUISED)
def test_a_disguised_production_host_is_refused_everywhere(url, monkeypatch, capsys):
    sent: list[str] = []

    def no_network(self, request):
        sent.append(str(request.url))
        raise httpx.ConnectError("the test allows no network")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", no_network)
    with pytest.raises(ProductionHostRefused):
        KalshiClient(url)
    for mode in (TradingMode.DEMO,):
        with pytest.raises(ConfigurationError, match="production"):
            check_mode_host(mode, url)
        with pytest.raises(ConfigurationError, match="production"):
            client_for_mode(TradingConfig(mode=mode), {}, KalshiSettings(api_base=url))
    with pytest.raises(ConfigurationError, match="production only"):
        check_mode_host(TradingMode.LIVE, "https://demo-api\u3002kalshi\u3002co/trade-api/v2")

    from tsa_bot.local.cli import main

    monkeypatch.setenv("KALSHI_API_BASE", url)
    monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", "/nonexistent/kalshi.pem")
    monkeypatch.delenv("KALSHI_ALLOW_PRODUCTION", raising=False)
    code = main(["kalshi", "place", f"{EVENT}-A2.30", "buy", "yes", "1", "0.42"])
    err = capsys.readouterr().err
    assert code == 2 and "production" in err and err.count("\n") == 1
    assert sent == []


@pytest.mark.parametrize(
    "url",
    [
        "https://kalshi.example.org/trade-api/v2",
        "http://10.0.0.7:8765/trade-api/v2",
        "http://simulator:8765/x",
    ],
)
def test_an_unknown_host_is_refused_unless_loopback(url):
    with pytest.raises(ConfigurationError, match="not a Kalshi host"):
        KalshiClient(url)
    KalshiClient("http://127.0.0.1:8765/trade-api/v2").close()
    KalshiClient("http://localhost:8765/trade-api/v2").close()
    KalshiClient("http://[::1]:8765/trade-api/v2").close()


def test_named_simulator_hosts_serve_paper_and_demo_but_never_loosen_the_production_guard(monkeypatch):
    compose = "http://simulator:8765/trade-api/v2"
    for mode in (TradingMode.PAPER, TradingMode.DEMO):
        with pytest.raises(ConfigurationError, match="TSABOT_SIMULATOR_HOSTS"):
            check_mode_host(mode, compose)
    monkeypatch.setenv("TSABOT_SIMULATOR_HOSTS", "simulator, sim2")
    for mode in (TradingMode.PAPER, TradingMode.DEMO):
        check_mode_host(mode, compose)
        check_mode_host(mode, "http://SIM2.:9000/trade-api/v2")
        client_for_mode(TradingConfig(mode=mode), {}, KalshiSettings(api_base=compose)).close()
    with pytest.raises(ConfigurationError, match="production only"):
        check_mode_host(TradingMode.LIVE, compose)
    with pytest.raises(ConfigurationError, match="not a Kalshi host"):
        KalshiClient("http://simulator3:8765/trade-api/v2")
    # Naming a Kalshi host a simulator is refused: it cannot open production to demo.
    monkeypatch.setenv("TSABOT_SIMULATOR_HOSTS", "simulator,external-api\u3002kalshi\u3002com")
    with pytest.raises(ConfigurationError, match="TSABOT_SIMULATOR_HOSTS"):
        check_mode_host(TradingMode.DEMO, "https://external-api.kalshi.com/trade-api/v2")
    with pytest.raises(ConfigurationError, match="TSABOT_SIMULATOR_HOSTS"):
        KalshiClient(compose)
