"""One trading run for one week, and the settlement of a week.

``run_trading``: market snapshot -> quotes -> cancel stale orders of earlier runs -> decisions ->
risk check -> idempotent placement -> fills, everything recorded with its reason. It composes the
separate steps of :mod:`tsa_bot.trading.steps` (which the DAG runs as one task each) with the caller's
client. The building blocks they share live here. ``settle_event``: P&L per position once the exchange
has determined the markets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.errors import ConfigurationError
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeBook
from tsa_bot.trading import store
from tsa_bot.trading.config import TradingConfig, TradingMode, check_mode_host, live_allowed
from tsa_bot.trading.execution import sync_fills

log = logging.getLogger(__name__)
ZERO = Decimal(0)


def take_snapshot(client: KalshiClient, event_ticker: str) -> MarketSnapshot:
    """Series fees, the event's markets and each market's order book, as one snapshot."""
    series = client.series(event_ticker.split("-")[0])
    event = client.event(event_ticker)
    books = []
    for market in event.markets:
        if market.floor_strike is None or market.status not in ("active", "open"):
            continue
        ob = client.orderbook(market.ticker)
        books.append(StrikeBook(market.ticker, market.floor_strike, ob.yes_bids, ob.no_bids))
    fees = FeeSchedule(series.fee_type, series.fee_multiplier)
    return MarketSnapshot(event_ticker, fees, tuple(books), datetime.now(UTC))


def _guard(config: TradingConfig, client: KalshiClient, params: Mapping[str, Any]) -> None:
    """Defence in depth: the mode, the host and the client's production switch must agree."""
    check_mode_host(config.mode, client.base_url)
    if config.mode is TradingMode.LIVE:
        if not live_allowed(config, params):
            raise ConfigurationError(
                "live trading needs TSABOT_LIVE_TRADING_ENABLED=1 and live=true in the params"
            )
    elif client.allow_production and not (config.mode is TradingMode.PAPER and client.read_only):
        # Paper may read production's market data, but only through a client that cannot send.
        raise ConfigurationError(f"a {config.mode} run was given a client allowed to reach production")


def run_trading(
    run_id: str,
    event_ticker: str,
    probabilities: Mapping[int, float],
    *,
    engine: sa.Engine,
    client: KalshiClient,
    config: TradingConfig,
    params: Mapping[str, Any] | None = None,
    today: datetime | None = None,
) -> dict[str, Any]:
    """Trade one week's event from the forecaster's ``{strike: P(mean > strike)}``, every step in one call.

    The composition of :mod:`tsa_bot.trading.steps` (fetch, price, decide, place, reconcile) with the
    caller's client. Returns a small JSON-able summary (for XCom); everything else is in the warehouse.
    """
    from tsa_bot.trading import steps

    params = dict(params or {})
    _guard(config, client, params)
    fetched = steps.fetch_step(
        engine, run_id, event_ticker, config=config, client=client, params=params, as_of=today
    )
    if "skipped" in fetched:
        return fetched
    steps.price_step(engine, run_id, probabilities, config=config)
    decided = steps.decide_step(engine, run_id, config=config, client=client)
    placed = steps.place_step(engine, run_id, config=config, client=client)
    summary = {
        "run_id": run_id,
        "mode": config.mode.value,
        "event_ticker": event_ticker,
        "decisions": decided["decisions"],
        **{k: placed[k] for k in ("orders", "already_placed", "rejected", "filled")},
        "cancelled_stale": decided["cancelled_stale"],
    }
    reconciled = steps.reconcile_step(engine, run_id, config=config, client=client, summary=summary)
    summary["positions"] = reconciled["positions"]
    log.info("trading run %s: %s", run_id, summary)
    return summary


def position_pnl(fills: list[Mapping[str, Any]], result: str) -> dict[str, Decimal]:
    """P&L of one market's fills once it settles.

    Buying YES at p earns ``R - p`` per contract and selling YES (buying NO at 1 - p) earns ``p - R``,
    where R is 1 for a YES result: this holds whatever netting happened along the way.
    """
    settle_value = Decimal(1) if result == "yes" else ZERO
    net = gross = fees = pnl = ZERO
    for f in fills:
        count, price = f["count"], f["yes_price"]
        if f["book_side"] == "bid":
            net += count
            gross += count * price
            pnl += count * (settle_value - price)
        else:
            net -= count
            gross += count * (1 - price)
            pnl += count * (price - settle_value)
        fees += f["fee"]
    payout = max(net, ZERO) * settle_value + max(-net, ZERO) * (1 - settle_value)
    return {"net_position": net, "gross_cost": gross, "fees": fees, "payout": payout, "pnl": pnl - fees}


def settle_event(
    event_ticker: str, *, engine: sa.Engine, client: KalshiClient, mode: TradingMode | str
) -> dict[str, Any]:
    """Record P&L per position for every market of the event the exchange has determined."""
    mode = TradingMode(mode).value
    event = client.event(event_ticker)
    exchange_revenue: dict[str, Decimal] = {}
    if mode != TradingMode.PAPER.value:
        sync_fills(engine, client, event_ticker, mode)
        exchange_revenue = {
            s.ticker: s.revenue_dollars for s in client.settlements(event_ticker=event_ticker)
        }
    with engine.begin() as conn:
        fills = store.fills_for_event(conn, event_ticker, mode)
        by_ticker: dict[str, list[Mapping[str, Any]]] = {}
        for f in fills:
            by_ticker.setdefault(f["ticker"], []).append(f)
        recorded, total = 0, ZERO
        for market in event.markets:
            if market.result not in ("yes", "no") or market.ticker not in by_ticker:
                continue
            figures = position_pnl(by_ticker[market.ticker], market.result)
            row = {
                "mode": mode,
                "event_ticker": event_ticker,
                "ticker": market.ticker,
                "result": market.result,
                "expiration_value": market.expiration_value or None,
                "exchange_revenue": exchange_revenue.get(market.ticker),
                **figures,
            }
            if store.save_settlement(conn, row):
                recorded += 1
                total += figures["pnl"]
    return {"event_ticker": event_ticker, "mode": mode, "positions_settled": recorded, "pnl": str(total)}


def trade_week(
    run_id: str,
    day: date,
    probabilities: Mapping[int, float],
    *,
    params: Mapping[str, Any] | None = None,
    warehouse_url: str | None = None,
    private_key_pem: bytes | None = None,
) -> dict[str, Any]:
    """The Airflow task's entry point: configuration from the environment, the week's event from ``day``.

    ``private_key_pem`` lets the task pass a key read from an Airflow connection instead of a file.
    """
    from tsa_bot.kalshi.client import event_ticker_for_week
    from tsa_bot.trading.config import client_for_mode
    from tsa_bot.warehouse.engine import get_engine

    params = dict(params or {})
    config = TradingConfig.from_params(params)
    if config.backfill:
        raise ConfigurationError("trade_week contacts the exchange: run a backfill through trading.steps")
    extra = {"private_key_pem": private_key_pem} if private_key_pem else {}
    with client_for_mode(config, params, **extra) as client:
        return run_trading(
            run_id,
            event_ticker_for_week(day),
            probabilities,
            engine=get_engine(warehouse_url),
            client=client,
            config=config,
            params=params,
        )


def settle_week(
    day: date, *, warehouse_url: str | None = None, private_key_pem: bytes | None = None
) -> dict[str, Any]:
    """Record the P&L of the week containing ``day`` once Kalshi has settled it."""
    from tsa_bot.kalshi.client import event_ticker_for_week
    from tsa_bot.trading.config import client_for_mode
    from tsa_bot.warehouse.engine import get_engine

    config = TradingConfig.from_env()
    extra = {"private_key_pem": private_key_pem} if private_key_pem else {}
    # Settlement only reads (a read-only client); a live configuration still needs its opt-in.
    params = {"live": True} if config.mode is TradingMode.LIVE else {}
    with client_for_mode(config, params, read_only=True, **extra) as client:
        return settle_event(
            event_ticker_for_week(day), engine=get_engine(warehouse_url), client=client, mode=config.mode
        )
