"""Constants and helpers shared by the trading tests (a plain module: conftest names are not importable)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.market import Action
from tsa_bot.kalshi.client import KalshiClient, RetryPolicy
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.kalshi_sim import EventSeed
from tsa_bot.orchestration import daily
from tsa_bot.trading import steps, store
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.decide import Decision, client_order_id
from tsa_bot.trading.run import TradingRun

KEY_ID = "5b2e7c44-1d3a-4f6b-8c9d-7e1f2a3b4c5d"
FAST_RETRY = RetryPolicy(attempts=6, backoff_s=0.005, max_backoff_s=0.02, budget_s=5.0)

# The trading tests' event: five strikes around 2.30 M, two levels a side, 10 contracts each.
EVENT = "KXTSAW-26FEB15"
WEEK = date(2026, 2, 9)  # the Monday of EVENT's week
RUN_TIME = datetime(2026, 2, 11, 14, tzinfo=UTC)
T225, T235 = f"{EVENT}-A2.25", f"{EVENT}-A2.35"
SEED = EventSeed(
    event_ticker=EVENT,
    strikes=(2_200_000, 2_250_000, 2_300_000, 2_350_000, 2_400_000),
    mids={
        2_200_000: Decimal("0.90"),
        2_250_000: Decimal("0.70"),
        2_300_000: Decimal("0.50"),
        2_350_000: Decimal("0.30"),
        2_400_000: Decimal("0.15"),
    },
    half_spread=Decimal("0.02"),
    levels=2,
    depth=Decimal(10),
)


def rest_order_of_earlier_run(
    engine: sa.Engine, client: KalshiClient, run_id: str, event: str, ticker: str, strike: int
) -> str:
    """Place a YES bid, 5 @ 0.40, and record it resting under demo run ``run_id``: a later run's stale order.

    Returns its client order id.
    """
    coid = client_order_id(run_id, ticker, "yes")
    size, price = Decimal(5), Decimal("0.40")
    placed = client.create_order(OrderRequest(ticker, coid, "bid", size, price))
    decision = Decision(
        event_ticker=event,
        ticker=ticker,
        strike=strike,
        fair_yes=None,
        raw_fair_yes=None,
        action=Action.BUY_YES,
        count=size,
        limit_price=price,
        fee_per_contract=None,
        ev_per_contract=None,
        kelly_contracts=None,
        client_order_id=coid,
        reason="x",
    )
    with engine.begin() as conn:
        store.start_run(conn, run_id, "demo", event, "127.0.0.1", {})
        store.save_order(
            conn,
            run_id=run_id,
            decision_id=None,
            mode="demo",
            d=decision,
            book_side="bid",
            yes_price=price,
            order_id=placed.order_id,
            status="resting",
            filled=Decimal(0),
            already_existed=False,
        )
    return coid


def trade(
    run_id: str,
    event: str,
    probabilities: Mapping[int, float],
    *,
    engine: sa.Engine,
    client: KalshiClient,
    config: TradingConfig,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The trading steps the DAG's tasks run, in order, with the test's own client; the run's summary.

    The DAG reaches the same functions through ``tsa_bot.orchestration.daily``, which loads the run and builds
    the client the same way.
    """
    fetched = steps.fetch_step(engine, run_id, event, config=config, client=client, params=params or {})
    if "skipped" in fetched:
        return fetched
    steps.price_step(TradingRun.load(engine, run_id, config), probabilities)
    decided = steps.decide_step(TradingRun.load(engine, run_id, config), client=client)
    placed = steps.place_step(TradingRun.load(engine, run_id, config), client=client)
    reconciled = steps.reconcile_step(TradingRun.load(engine, run_id, config), client=client)
    return {
        **placed,
        "decisions": decided["decisions"],
        # Taker runs cancel stale orders in decide; maker runs in place (those they do not amend).
        "cancelled_stale": decided["cancelled_stale"] + placed.get("cancelled_stale", 0),
        "positions": reconciled["positions"],
    }


def save_forecast(
    engine: sa.Engine, run_key: str, probabilities: Mapping[int | str, float], week: date = WEEK
) -> dict[str, Any]:
    """A stored forecast of ``week``, as the forecast task hands it to the trading tasks."""
    with engine.begin() as conn:
        forecast_id = conn.execute(
            sa.text(
                "insert into forecasts (run_key, week_start, as_of, known_days, model_version, mean,"
                " quantiles, samples) values (:k, :w, :a, 2, 'test', 2300000, '{}', '{2300000}')"
                " returning id"
            ),
            {"k": run_key, "w": week, "a": week + timedelta(days=2)},
        ).scalar_one()
        conn.execute(
            sa.text("insert into forecast_strike_probs values (:i, :s, :p)"),
            [{"i": forecast_id, "s": int(s), "p": p} for s, p in probabilities.items()],
        )
    return {"forecast_id": forecast_id, "week_start": week.isoformat()}


def run_info(key: str, params: Mapping[str, Any], when: datetime = RUN_TIME) -> daily.RunInfo:
    """A DAG run as the tasks see it (a backfill when its params say so, as orchestration sets them)."""
    return daily.RunInfo(key, when, bool(params.get("backfill")) is True, dict(params))


def decide_with_daily_tasks(
    engine: sa.Engine, key: str, params: Mapping[str, Any], probs: Mapping[int, float]
) -> dict[str, Any]:
    """The DAG's first three trading tasks for a run at RUN_TIME; the decide task's result."""
    forecast = save_forecast(engine, key, probs)
    run = run_info(key, params)
    daily.fetch_market(run, forecast)
    daily.price(run, forecast)
    return daily.decide(run)


def decision_rows(engine: sa.Engine, run_id: str) -> list[dict[str, Any]]:
    """The run's decisions (ticker, action, reason), lowest strike first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select ticker, action, reason from trading_decisions where run_id = :r order by strike"),
            {"r": run_id},
        ).mappings()
        return [dict(r) for r in rows]
