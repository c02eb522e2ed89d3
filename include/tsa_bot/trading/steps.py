"""Trading as separate steps, one Airflow task each: fetch -> price -> decide -> place -> reconcile.

Each step takes the warehouse engine, the run's key, its configuration and (where it needs the exchange)
a client, reads what it needs from the warehouse by that key and returns small JSON (ids, counts, keys).
The DAG's tasks reach them through :mod:`~tsa_bot.orchestration.daily`, which builds configuration and
client; tests call them with their own client. Each is idempotent for its run: a retry after its side
effect writes the same rows and never sends a second order.

- ``fetch_step`` records the run (``trading_runs``) and its market snapshot. When the exchange is
  not trading or the event does not exist, it records the run as *skipped*, and every later step
  returns ``{"skipped": reason}``. A backfill run contacts no exchange: it reuses the latest snapshot
  of the event recorded by ``as_of``, or skips.
- ``price_step`` saves one quote per strike (``trading_quotes``).
- ``decide_step`` adopts and cancels stale resting orders of earlier runs, then saves one decision per
  strike. A policy that learns the market's weight (``blend``, ``guarded``) pools the market at the weight of
  ``market_history``: the run's
  pinned ``market_weight`` param, else learned from weeks settled before its ``as_of``, else the default.
  Once done it is not recomputed: after orders are placed the exposure it sized against changed.
- ``place_step`` risk-checks each decision and places it at most once (see :mod:`.execution`); a
  decision rejected once stays rejected on a retry.
- ``reconcile_step`` syncs fills, records positions and finishes the run.
- ``settle_step`` records the P&L per position once the exchange has determined the markets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import ZERO, Action, series_of
from tsa_bot.kalshi.client import KalshiClient, host_of
from tsa_bot.kalshi.errors import KalshiNotFound
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote, price_strikes
from tsa_bot.trading import store
from tsa_bot.trading.book import Outcome, paper_positions, settle_book
from tsa_bot.trading.brokers import Broker, ExchangeBroker, PaperBroker
from tsa_bot.trading.config import TradingConfig, TradingMode
from tsa_bot.trading.decide import decide
from tsa_bot.trading.execution import (
    account_of,
    adopt_orders,
    cancel_stale,
    execute,
    exposure_lock,
    sync_fills,
)
from tsa_bot.trading.factories import guard
from tsa_bot.trading.market_history import market_weight_for
from tsa_bot.trading.policies import POLICIES
from tsa_bot.trading.risk import ExposureState, RestingOrder

log = logging.getLogger(__name__)
WAREHOUSE_HOST = "warehouse"  # the api_host of a backfill run: its market data came from the warehouse


# ---- the steps, on an engine, a configuration and a client ---------------------------------------------


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _base(run: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": run["run_id"], "mode": run["mode"], "event_ticker": run["event_ticker"]}


def _load_run(engine: sa.Engine, run_id: str, config: TradingConfig) -> dict[str, Any]:
    with engine.begin() as conn:
        run = store.get_run(conn, run_id)
    if run is None:
        raise ConfigurationError(f"no trading run '{run_id}' in the warehouse: fetch_market must run first")
    if run["mode"] != config.mode.value:
        raise ConfigurationError(
            f"trading run '{run_id}' was started in {run['mode']} mode; this step is configured for "
            f"{config.mode.value}"
        )
    return run


def _skipped(run: Mapping[str, Any]) -> dict[str, Any] | None:
    if run["status"] != "skipped":
        return None
    return {**_base(run), "skipped": run["skip_reason"]}


def _skip(engine: sa.Engine, run_id: str, base: Mapping[str, Any], reason: str) -> dict[str, Any]:
    result = {**base, "skipped": reason}
    with engine.begin() as conn:
        store.finish_run(conn, run_id, result, skipped=reason)
    log.info("trading run %s skipped: %s", run_id, reason)
    return result


def take_snapshot(client: KalshiClient, event_ticker: str) -> MarketSnapshot:
    """Series fees, the event's markets and each market's order book, as one snapshot."""
    series = client.series(series_of(event_ticker))
    event = client.event(event_ticker)
    books = []
    for market in event.markets:
        if market.floor_strike is None or market.status not in ("active", "open"):
            continue
        ob = client.orderbook(market.ticker)
        books.append(replace(ob, strike=market.floor_strike))
    fees = FeeSchedule(series.fee_type, series.fee_multiplier)
    return MarketSnapshot(event_ticker, fees, tuple(books), datetime.now(UTC))


def needs_exchange(engine: sa.Engine, run_id: str, cached_step: str | None = None) -> bool:
    """False when a step will return without the exchange: the run was skipped, or the step is done.

    A run not yet in the warehouse needs it (the step then says fetch_market must run first).
    """
    with engine.begin() as conn:
        run = store.get_run(conn, run_id)
    if run is None:
        return True
    return run["status"] != "skipped" and (cached_step is None or cached_step not in run["steps"])


def fetch_step(
    engine: sa.Engine,
    run_id: str,
    event_ticker: str,
    *,
    config: TradingConfig,
    client: KalshiClient | None,
    params: Mapping[str, Any],
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Record the run and its snapshot of the event; or record why it is skipped."""
    mode = config.mode.value
    with engine.begin() as conn:
        run = store.get_run(conn, run_id)
    if run is not None:
        if run["mode"] != mode:
            raise ConfigurationError(f"trading run '{run_id}' was started in {run['mode']} mode, not {mode}")
        done = _skipped(run) or run["steps"].get("fetch")
        if done is not None:
            return dict(done)  # a retry: the snapshot (or the skip) is already recorded
    if config.backfill:
        if client is not None:
            raise ConfigurationError("a backfill run contacts no exchange: it must not be given a client")
        host = WAREHOUSE_HOST
    else:
        if client is None:
            raise ConfigurationError(f"a {mode} run needs a Kalshi client to read the market")
        guard(config, client, params)
        host = host_of(client.base_url)
    moment = _utc(as_of)
    base = {"run_id": run_id, "mode": mode, "event_ticker": event_ticker}
    with engine.begin() as conn:
        store.start_run(
            conn, run_id, mode, event_ticker, host, params, backfill=config.backfill, as_of=moment
        )

    source: str | None = None
    snapshot: MarketSnapshot | None
    if client is None:
        with engine.begin() as conn:
            source = store.latest_snapshot_run(conn, event_ticker, moment)
            snapshot = store.load_snapshot(conn, source) if source else None
        if snapshot is None:
            return _skip(
                engine,
                run_id,
                base,
                f"no market snapshot recorded for {event_ticker} by {moment.isoformat()}",
            )
    else:
        if not client.exchange_status().trading_active:
            return _skip(engine, run_id, base, "exchange not trading")
        try:
            snapshot = take_snapshot(client, event_ticker)
        except KalshiNotFound as exc:
            return _skip(engine, run_id, base, f"event {event_ticker} not found on {host}: {exc}")
    result = {
        **base,
        "snapshot_id": run_id,  # trading_snapshots rows are keyed by the run
        "snapshot_source_run": source,
        "markets": len(snapshot.books),
        "taken_at": (snapshot.taken_at or moment).isoformat(),
    }
    with engine.begin() as conn:
        store.save_snapshot(conn, run_id, snapshot, source_run=source)
        store.record_step(conn, run_id, "fetch", result)
    return result


def _best_edge(quotes: list[StrikeQuote]) -> dict[str, Any]:
    candidates = [
        (ev, q.ticker, side)
        for q in quotes
        for ev, side in ((q.ev_yes, "yes"), (q.ev_no, "no"))
        if ev is not None
    ]
    if not candidates:
        return {"best_edge": None, "best_ticker": None, "best_side": None}
    ev, ticker, side = max(candidates)
    return {"best_edge": str(ev), "best_ticker": ticker, "best_side": side}


def price_step(
    engine: sa.Engine, run_id: str, probabilities: Mapping[int | str, float], *, config: TradingConfig
) -> dict[str, Any]:
    """Quote every strike of the run's snapshot against the forecaster's ``{strike: P(mean > strike)}``."""
    run = _load_run(engine, run_id, config)
    skipped = _skipped(run)
    if skipped is not None:
        return skipped
    if "decide" in run["steps"]:
        return dict(run["steps"]["price"])  # decisions were made from these quotes: keep them
    # JSON (XCom, jsonb) turns integer keys into strings.
    probs = {int(k): float(v) for k, v in probabilities.items()}
    with engine.begin() as conn:
        snapshot = store.load_snapshot(conn, run_id)
    if snapshot is None:
        raise ConfigurationError(
            f"trading run '{run_id}' has no market snapshot: fetch_market did not finish"
        )
    quotes = price_strikes(probs, snapshot)
    result = {**_base(run), "quotes": len(quotes), **_best_edge(quotes)}
    with engine.begin() as conn:
        store.save_quotes(conn, run_id, run["event_ticker"], quotes)
        store.record_step(conn, run_id, "price", result)
    return result


def _book_state(
    engine: sa.Engine,
    run: Mapping[str, Any],
    snapshot: MarketSnapshot,
    config: TradingConfig,
    client: KalshiClient | None,
) -> tuple[Broker, Decimal]:
    """The broker for the run's mode, and the P&L realised on the run's day (for the daily-loss limit)."""
    mode = run["mode"]
    day = _utc(run["as_of"]).date()
    with engine.begin() as conn:
        realised_today = store.realised_pnl_on(conn, mode, day)
        if config.mode is TradingMode.PAPER:
            paper_fills = store.fills_for_mode(conn, mode)  # every event: total exposure counts them all
            settled = store.settled_tickers(conn, mode)
            bankroll = config.paper_bankroll + store.realised_pnl_total(conn, mode)
    if config.mode is TradingMode.PAPER:
        return PaperBroker(snapshot, snapshot.fees, paper_fills, settled, bankroll), realised_today
    if client is None:
        raise ConfigurationError(f"a {mode} run needs a Kalshi client to trade")
    return ExchangeBroker(client, mode), realised_today


def _snapshot_of(engine: sa.Engine, run_id: str) -> MarketSnapshot:
    with engine.begin() as conn:
        snapshot = store.load_snapshot(conn, run_id)
    if snapshot is None:
        raise ConfigurationError(
            f"trading run '{run_id}' has no market snapshot: fetch_market did not finish"
        )
    return snapshot


def decide_step(
    engine: sa.Engine, run_id: str, *, config: TradingConfig, client: KalshiClient | None
) -> dict[str, Any]:
    """Cancel stale orders of earlier runs, then decide (and save) what to buy in every market."""
    run = _load_run(engine, run_id, config)
    skipped = _skipped(run)
    if skipped is not None:
        return skipped
    if "decide" in run["steps"]:
        return dict(run["steps"]["decide"])
    if "price" not in run["steps"]:
        raise ConfigurationError(f"trading run '{run_id}' has no quotes: price_market must run first")
    event_ticker, mode = run["event_ticker"], run["mode"]
    snapshot = _snapshot_of(engine, run_id)
    with engine.begin() as conn:
        quotes = store.load_quotes(conn, run_id)
    weighed: dict[str, Any] = {}
    weight_note = None
    if POLICIES[config.policy].learns_market_weight:
        moment = _utc(run["as_of"] or run["started_at"])
        chosen = market_weight_for(engine, moment, run["params"] or {}, config.market_weight)
        config = replace(config, market_weight=chosen.weight)
        weight_note = chosen.reason
        weighed = {
            "market_weight": str(chosen.weight),
            "market_weight_source": chosen.source,
            "market_weight_weeks": chosen.weeks,
            "market_weight_history_weeks": chosen.history_weeks,
            "market_weight_reason": chosen.reason,
        }
    with exposure_lock(engine, account_of(run)):
        broker, realised_today = _book_state(engine, run, snapshot, config, client)
        if isinstance(broker, ExchangeBroker):
            adopt_orders(broker.client, engine, run_id, event_ticker, mode)
            sync_fills(engine, broker.client, event_ticker, mode)
        with engine.begin() as conn:
            ours = store.our_orders(conn, event_ticker, mode)
        cancelled = cancel_stale(broker, engine, run_id, event_ticker, ours)
        state = broker.exposure(event_ticker, ours)
        state = ExposureState(state.holdings, state.resting, realised_today, state.bankroll)
        decisions = decide(run_id, quotes, snapshot, state, config, weight_note=weight_note)
    result = {
        **_base(run),
        "decisions": len(decisions),
        "buys": sum(1 for d in decisions if d.action != Action.NONE),
        "cancelled_stale": cancelled,
        **weighed,
    }
    with engine.begin() as conn:  # all the decisions or none, and the step marked done with them
        for d in decisions:
            store.save_decision(conn, run_id, d)
        store.record_step(conn, run_id, "decide", result)
    return result


def place_step(
    engine: sa.Engine, run_id: str, *, config: TradingConfig, client: KalshiClient | None
) -> dict[str, Any]:
    """Risk-check each buy decision and place it at most once; record rejections with their reasons."""
    run = _load_run(engine, run_id, config)
    skipped = _skipped(run)
    if skipped is not None:
        return skipped
    if "decide" not in run["steps"]:
        raise ConfigurationError(f"trading run '{run_id}' has no decisions: decide_orders must run first")
    with exposure_lock(engine, account_of(run)):
        run = _load_run(engine, run_id, config)  # as it is now: another attempt may have finished meanwhile
        event_ticker, mode = run["event_ticker"], run["mode"]
        snapshot = _snapshot_of(engine, run_id)
        broker, realised_today = _book_state(engine, run, snapshot, config, client)
        if isinstance(broker, ExchangeBroker):
            # Orders of ours the warehouse never heard back about (this run's or another's): record them.
            adopt_orders(broker.client, engine, run_id, event_ticker, mode)
            sync_fills(engine, broker.client, event_ticker, mode)
        with engine.begin() as conn:
            decisions = [(i, d) for i, d in store.load_decisions(conn, run_id) if d.action != Action.NONE]
            ours = store.our_orders(conn, event_ticker, mode)
            rejected_before = store.rejections_for_run(conn, run_id)
        # Everything on the exchange (or in the paper book) is in here, this run's earlier orders included.
        state = broker.exposure(event_ticker, ours)
        state = ExposureState(state.holdings, state.resting, realised_today, state.bankroll)
        first_record = "place" not in run["steps"]

        result: dict[str, Any] = {
            **_base(run),
            "orders": 0,
            "already_placed": 0,
            "rejected": 0,
            "filled": "0",
        }
        filled_total = ZERO
        for decision_id, d in decisions:
            assert d.client_order_id is not None
            with engine.begin() as conn:
                existing = store.order_by_client_id(conn, d.client_order_id)
            if d.ticker in rejected_before and (existing is None or not existing["order_id"]):
                result["rejected"] += 1  # rejected on an earlier attempt: the verdict stands
                continue
            outcome, filled, sent_now = execute(d, decision_id, broker, engine, run_id, state, config)
            if outcome == "already_placed" and first_record:
                outcome = "orders"  # placed by an earlier, interrupted attempt of this same run
            result[outcome] += 1
            filled_total += filled
            if sent_now:  # later orders of this run are checked with this one counted in, once
                assert d.limit_price is not None and d.fee_per_contract is not None
                placed = RestingOrder(
                    "this-run",
                    d.client_order_id,
                    d.ticker,
                    d.direction,
                    d.count,
                    d.limit_price + d.fee_per_contract,
                )
                state = replace(state, resting=(*state.resting, placed))
        result["filled"] = str(filled_total)
        if first_record:  # the first complete attempt is the record; a retry only confirms it
            with engine.begin() as conn:
                store.record_step(conn, run_id, "place", result)
    return result


def reconcile_step(
    engine: sa.Engine,
    run_id: str,
    *,
    config: TradingConfig,
    client: KalshiClient | None,
) -> dict[str, Any]:
    """Sync fills (demo/live), record the event's positions and finish the run with its summary."""
    run = _load_run(engine, run_id, config)
    skipped = _skipped(run)
    if skipped is not None:
        return skipped
    event_ticker, mode = run["event_ticker"], run["mode"]
    added = 0
    if config.mode is TradingMode.PAPER:
        with engine.begin() as conn:
            positions = paper_positions(
                store.fills_for_event(conn, event_ticker, mode), store.settled_tickers(conn, mode)
            )
    else:
        if client is None:
            raise ConfigurationError(f"a {mode} run needs a Kalshi client to reconcile")
        added = sync_fills(engine, client, event_ticker, mode)
        positions = [
            {
                "ticker": p.ticker,
                "position": p.position_fp,
                "exposure": p.market_exposure_dollars,
                "fees": p.fees_paid_dollars,
            }
            for p in client.positions(event_ticker=event_ticker).market_positions
            if p.ticker.startswith(event_ticker + "-") and p.position_fp != 0
        ]
    with engine.begin() as conn:
        recorded = store.save_positions(conn, run_id, mode, event_ticker, positions)
        fills = len(store.fills_for_run(conn, run_id))
        resting = sum(
            1 for o in store.our_orders(conn, event_ticker, mode).values() if o["status"] == "resting"
        )
    result = {
        **_base(run),
        "fills": fills,
        "new_fills": added,
        "positions": recorded,
        "resting_orders": resting,
    }
    steps = run["steps"]
    final = {
        **_base(run),
        "decisions": steps.get("decide", {}).get("decisions", 0),
        "cancelled_stale": steps.get("decide", {}).get("cancelled_stale", 0),
        **{k: steps.get("place", {}).get(k, 0) for k in ("orders", "already_placed", "rejected", "filled")},
    }
    final.update(fills=fills, positions=recorded)
    with engine.begin() as conn:
        store.record_step(conn, run_id, "reconcile", result)
        store.finish_run(conn, run_id, final)
    log.info("trading run %s: %s", run_id, final)
    return result


def settle_step(
    engine: sa.Engine, event_ticker: str, *, client: KalshiClient, mode: TradingMode | str
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
    outcomes = {
        m.ticker: Outcome(m.result, m.expiration_value or None, exchange_revenue.get(m.ticker))
        for m in event.markets
        if m.result in ("yes", "no")
    }
    with engine.begin() as conn:
        recorded, total = settle_book(conn, mode, event_ticker, outcomes)
    return {"event_ticker": event_ticker, "mode": mode, "positions_settled": recorded, "pnl": str(total)}
