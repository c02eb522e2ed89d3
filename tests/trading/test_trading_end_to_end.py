"""Done-when: forecast probabilities -> decisions -> orders -> fills -> positions -> settlement, against the
simulator over HTTP, with the P&L in the warehouse matching a figure computed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from key_testkit import private_pem
from trading_testkit import (
    EVENT,
    FAST_RETRY,
    KEY_ID,
    SEED,
    T225,
    T235,
    rest_order_of_earlier_run,
    run_info,
    save_forecast,
    trade,
)

from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi_sim import running_simulator
from tsa_bot.trading import store
from tsa_bot.trading.config import RiskLimits, TradingConfig, TradingMode
from tsa_bot.trading.steps import settle_step

D = Decimal
# The forecaster's hand-over: 2.25 M is cheap (YES), 2.35 M is dear (NO), the others are fairly priced.
PROBS = {2_200_000: 0.90, 2_250_000: 0.85, 2_300_000: 0.50, 2_350_000: 0.10, 2_400_000: 0.16}
LIMITS = RiskLimits(
    max_order_contracts=D(15),
    max_order_cost=D(50),
    max_contracts_per_market=D(15),
    max_event_exposure=D(100),
    max_total_exposure=D(200),
    max_daily_loss=D(50),
)


def config(mode: TradingMode, **limits) -> TradingConfig:
    return TradingConfig(mode=mode, limits=RiskLimits(**{**LIMITS.__dict__, **limits}))


def rows(engine: sa.Engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def test_forecast_to_settled_pnl_in_demo_mode(warehouse_engine, tsim, tclient):
    summary = trade(
        "run-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO)
    )
    assert (summary["decisions"], summary["orders"], summary["rejected"]) == (5, 2, 0)

    decisions = {r["ticker"]: r for r in rows(warehouse_engine, "select * from trading_decisions")}
    assert decisions[T225]["action"] == "buy_yes" and decisions[T235]["action"] == "buy_no"
    # Kelly wants 139 contracts; 20 are offered with edge; the largest order (15) binds.
    assert decisions[T225]["count"] == 15 and decisions[T225]["kelly_contracts"] == 139
    assert "order_contracts limit" in decisions[T225]["reason"]
    assert (
        decisions[f"{EVENT}-A2.30"]["action"] == "none" and "no edge" in decisions[f"{EVENT}-A2.30"]["reason"]
    )

    # Orders swept two levels: 10 @ 0.72 and 5 @ 0.73 (YES on 2.25; NO on 2.35 is the mirror image).
    positions = {p.ticker: p.position_fp for p in tclient.positions().market_positions}
    assert positions == {T225: 15, T235: -15}
    fills = rows(warehouse_engine, "select * from trading_fills order by ticker, yes_price")
    assert [(f["ticker"], f["count"], f["yes_price"], f["fee"]) for f in fills] == [
        (T225, 10, D("0.72"), D("0.1412")),
        (T225, 5, D("0.73"), D("0.0690")),
        (T235, 5, D("0.27"), D("0.0690")),
        (T235, 10, D("0.28"), D("0.1412")),
    ]

    # The task is retried: it sees the positions, sends nothing, and keeps the decisions that acted.
    again = trade(
        "run-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO)
    )
    assert again["orders"] == 0 and len(tclient.orders()) == 2
    assert rows(
        warehouse_engine,
        "select action from trading_decisions where run_id = 'run-1' and ticker = :t",
        t=T225,
    ) == [{"action": "buy_yes"}]
    # The next day's run holds the per-market maximum already: sized to zero, no order.
    nxt = trade(
        "run-2", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO)
    )
    assert nxt["orders"] == 0
    assert (
        "market_contracts"
        in rows(
            warehouse_engine,
            "select reason from trading_decisions where run_id = 'run-2' and ticker = :t",
            t=T225,
        )[0]["reason"]
    )
    assert len(tclient.orders()) == 2 and tclient.positions().market_positions[0].position_fp == 15

    # The week's mean is 2.36 M: 2.25 M settles YES (we win), 2.35 M settles YES too (our NO loses).
    tsim.settle(EVENT, 2_360_000)
    result = settle_step(warehouse_engine, EVENT, client=tclient, mode="demo")
    # By hand: YES 2.25: 15 - (7.20 + 3.65) - (0.1412 + 0.0690) = 3.9398
    #          NO 2.35: 10 x (0.28 - 1) + 5 x (0.27 - 1) - 0.2102 = -11.0602
    assert D(result["pnl"]) == D("-7.1204") and result["positions_settled"] == 2
    pnl = {r["ticker"]: r for r in rows(warehouse_engine, "select * from trading_settlements")}
    assert pnl[T225]["pnl"] == D("3.9398") and pnl[T235]["pnl"] == D("-11.0602")
    assert pnl[T225]["exchange_revenue"] == 15 and pnl[T235]["exchange_revenue"] == 0
    # The exchange's cash agrees with the warehouse.
    assert tclient.balance().balance_dollars == D(1000) + D("-7.1204")
    # Settling twice records nothing twice.
    assert settle_step(warehouse_engine, EVENT, client=tclient, mode="demo")["positions_settled"] == 0


def test_paper_mode_fills_locally_and_sends_no_order(warehouse_engine, tsim, tclient):
    summary = trade(
        "paper-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.PAPER)
    )
    assert summary["orders"] == 2 and D(summary["filled"]) == 30
    assert tsim.exchange.accounts[KEY_ID].orders == []  # nothing reached the exchange's order book
    orders = rows(warehouse_engine, "select mode, status, order_id from trading_orders")
    assert all(o["mode"] == "paper" and o["status"] == "executed" for o in orders)
    # A second paper run sees the paper position and does not double it.
    assert (
        trade(
            "paper-2", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.PAPER)
        )["orders"]
        == 0
    )
    tsim.settle(EVENT, 2_360_000)
    result = settle_step(warehouse_engine, EVENT, client=tclient, mode="paper")
    assert D(result["pnl"]) == D("-7.1204")


def test_stale_resting_orders_of_earlier_runs_are_cancelled(warehouse_engine, tsim, tclient):
    from tsa_bot.kalshi.models import OrderRequest

    coid = rest_order_of_earlier_run(warehouse_engine, tclient, "run-0", EVENT, T225, 2_250_000)
    manual = tclient.create_order(OrderRequest(T225, "typed-by-hand", "bid", D(5), D("0.40")))
    summary = trade(
        "run-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO)
    )
    assert summary["cancelled_stale"] == 1
    statuses = {o.client_order_id: o.status for o in tclient.orders()}
    assert statuses[coid] == "canceled" and statuses["typed-by-hand"] == "resting"  # not ours: left alone
    [row] = rows(
        warehouse_engine,
        "select status, status_reason from trading_orders where client_order_id = :c",
        c=coid,
    )
    assert row["status"] == "canceled" and "superseded by run run-1" in row["status_reason"]
    assert manual.order_id


def test_kill_switch_and_daily_loss_reject_and_record_why(warehouse_engine, tsim, tclient):
    summary = trade(
        "kill-1",
        EVENT,
        PROBS,
        engine=warehouse_engine,
        client=tclient,
        config=config(TradingMode.DEMO, kill_switch=True),
    )
    assert summary["orders"] == 0 and summary["rejected"] == 2
    assert tclient.orders() == []
    codes = {r["code"] for r in rows(warehouse_engine, "select code from trading_rejections")}
    assert codes == {"kill_switch"}

    with warehouse_engine.begin() as conn:
        store.save_settlement(
            conn,
            {
                "mode": "demo",
                "event_ticker": "KXTSAW-26FEB08",
                "ticker": "KXTSAW-26FEB08-A2.30",
                "result": "no",
                "expiration_value": None,
                "net_position": D(60),
                "gross_cost": D(60),
                "fees": D(1),
                "payout": D(0),
                "pnl": D(-61),
                "exchange_revenue": None,
            },
        )
    summary = trade(
        "loss-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO)
    )
    assert summary["orders"] == 0 and summary["rejected"] == 2
    [rej, *_] = rows(warehouse_engine, "select * from trading_rejections where run_id = 'loss-1'")
    assert rej["code"] == "daily_loss" and D(rej["numbers"]["value"]) == 61


def test_exchange_rejection_is_recorded_not_raised(warehouse_engine, rsa_key):
    with running_simulator(SEED, read_rate=10_000, write_rate=10_000) as poor:
        poor.register_key(KEY_ID, rsa_key.public_key(), balance=5)  # Kelly sizes on $5...
        with KalshiClient(poor.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY) as c:
            # ...but someone else spends the money between our balance read and the order.
            cfg = TradingConfig(mode=TradingMode.DEMO, limits=LIMITS, kelly_fraction=D(1))
            original = c.balance

            def balance_then_spend():
                b = original()
                poor.exchange.accounts[KEY_ID].cash = D("0.50")
                return b

            c.balance = balance_then_spend  # type: ignore[method-assign]
            summary = trade("poor-1", EVENT, PROBS, engine=warehouse_engine, client=c, config=cfg)
    assert summary["rejected"] == 2 and summary["orders"] == 0
    codes = {r["code"] for r in rows(warehouse_engine, "select code, stage from trading_rejections")}
    assert codes == {"insufficient_balance"}


def test_a_crash_after_placing_is_retried_without_doubling(warehouse_engine, tsim, tclient, monkeypatch):
    real_save_order = store.save_order

    def crash(*args, **kwargs):
        raise ConnectionError("worker killed between placing and recording")

    monkeypatch.setattr(store, "save_order", crash)
    with pytest.raises(ConnectionError):
        trade("run-c", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO))
    assert len(tclient.orders()) == 1  # the first order landed; the run died before recording it

    monkeypatch.setattr(store, "save_order", real_save_order)
    trade("run-c", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO))
    positions = {p.ticker: p.position_fp for p in tclient.positions().market_positions}
    assert positions == {T225: 15, T235: -15}  # 2.25 M not bought twice
    adopted = rows(warehouse_engine, "select * from trading_orders where ticker = :t", t=T225)
    assert len(adopted) == 1 and adopted[0]["already_existed"] and adopted[0]["filled_count"] == 15
    assert len(rows(warehouse_engine, "select * from trading_fills")) == 4  # its fills were fetched


def test_no_trading_while_the_exchange_is_halted(warehouse_engine, tsim, tclient):
    tsim.exchange.trading_active = False
    summary = trade(
        "halt-1", EVENT, PROBS, engine=warehouse_engine, client=tclient, config=config(TradingMode.DEMO)
    )
    assert summary["skipped"] == "exchange not trading" and tclient.orders() == []


def test_event_exposure_limit_counts_the_runs_own_earlier_orders(warehouse_engine, tsim, tclient):
    trade(
        "cap-1",
        EVENT,
        PROBS,
        engine=warehouse_engine,
        client=tclient,
        config=config(TradingMode.DEMO, max_event_exposure=D(15)),
    )
    decisions = {r["ticker"]: r for r in rows(warehouse_engine, "select * from trading_decisions")}
    # 2.25 M: 15 x (0.73 + 0.0138) = 11.157; what is left of $15 buys 5 of 2.35 M's NO.
    assert decisions[T225]["count"] == 15
    assert decisions[T235]["count"] == 5 and "event_exposure limit" in decisions[T235]["reason"]
    positions = {p.ticker: p.position_fp for p in tclient.positions().market_positions}
    assert positions == {T225: 15, T235: -5}


def test_the_dag_task_functions_read_the_environment_and_accept_json_keys(
    warehouse_url, warehouse_engine, tsim, rsa_key, monkeypatch
):
    """The tasks' own path: ``orchestration.daily`` builds configuration and client from the environment and a
    key handed over in memory (as the Airflow connection's is)."""

    from tsa_bot.kalshi.hosts import KalshiSettings
    from tsa_bot.orchestration import daily

    pem = private_pem(rsa_key)
    monkeypatch.setenv("KALSHI_API_BASE", tsim.base_url)
    monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
    monkeypatch.delenv("KALSHI_PRIVATE_KEY_PATH", raising=False)
    monkeypatch.setenv("TSABOT_TRADING_MODE", "demo")
    monkeypatch.setenv("TSABOT_MAX_ORDER_CONTRACTS", "15")
    monkeypatch.setenv("TSABOT_MAX_CONTRACTS_PER_MARKET", "15")
    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    kalshi = replace(KalshiSettings.from_env(), private_key_pem=pem)
    assert "BEGIN" not in repr(kalshi)  # the key stays out of logs
    as_json = {str(k): v for k, v in PROBS.items()}  # what XCom hands back
    forecast = save_forecast(warehouse_engine, "forecast-1", as_json)
    run = run_info("task-1", {})
    daily.fetch_market(run, forecast, kalshi=kalshi)
    daily.price(run, forecast)
    daily.decide(run, kalshi=kalshi)
    assert daily.place_orders(run, kalshi=kalshi)["orders"] == 2
    summary = daily.reconcile(run, kalshi=kalshi)
    assert summary["event_ticker"] == EVENT and summary["positions"] == 2
    tsim.settle(EVENT, 2_360_000)
    settled = daily.settle_trades(run, date(2026, 2, 15), kalshi=kalshi)
    assert D(settled["pnl"]) == D("-7.1204")
