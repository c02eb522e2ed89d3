"""Trading as separate steps, one Airflow task each: fetch -> price -> decide -> place -> reconcile.

``fetch_step`` starts the run from the warehouse engine, the run's key and its configuration. Every later
step takes the run as :class:`~tsa_bot.trading.run.TradingRun` (its row, configuration and snapshot, loaded
once for the step) and, where it needs the exchange, a client; it reads the rest from the warehouse by the
run's key and returns small JSON (ids, counts, keys). The DAG's tasks reach them through
:mod:`~tsa_bot.orchestration.daily`, which loads the run and builds the client; tests call them with their
own client. Each is idempotent for its run: a retry after its side
effect writes the same rows and never sends a second order.

- ``fetch_step`` records the run (``trading_runs``) and its market snapshot. When the exchange is
  not trading or the event does not exist, it records the run as *skipped*, and every later step
  returns ``{"skipped": reason}``. A backfill run contacts no exchange: it reuses the latest snapshot
  of the event recorded by ``as_of``, or skips.
- ``price_step`` saves one quote per strike (``trading_quotes``).
- ``decide_step`` adopts and (taker) cancels stale resting orders of earlier runs, then saves one decision
  per strike. With maker execution each buy becomes a post-only order at the bid (:mod:`.maker`), and the
  stale orders stay until ``place_step``: it amends the one in a market and direction still wanted, and
  cancels the rest; the decision is made as if they were gone (the run re-decides from scratch either way).
  A policy that learns the market's weight (``blend``, ``guarded``) gets the weight of
  ``market_history``: the run's pinned ``market_weight`` param, else learned from weeks settled before its
  ``as_of``, else the default.
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
from tsa_bot.core.market import ZERO, Action, in_event, series_of
from tsa_bot.core.publication import event_known_days
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.errors import KalshiNotFound
from tsa_bot.kalshi.factories import guard
from tsa_bot.kalshi.hosts import host_of
from tsa_bot.pricing.execution import Execution
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote, price_strikes
from tsa_bot.pricing.record import EdgeRecord, edge_record
from tsa_bot.trading import store
from tsa_bot.trading.book import Outcome, paper_positions, settle_book
from tsa_bot.trading.brokers import Broker, ExchangeBroker, PaperBroker
from tsa_bot.trading.config import TradingConfig, TradingMode
from tsa_bot.trading.decide import decide
from tsa_bot.trading.execution import (
    adopt_orders,
    cancel_order,
    cancel_stale,
    execute,
    exposure_lock,
    fill_paper_resting,
    stale_orders,
    sync_fills,
)
from tsa_bot.trading.maker import as_maker
from tsa_bot.trading.market_history import pinned_weight, scored_history
from tsa_bot.trading.policies import POLICIES
from tsa_bot.trading.risk import ExposureState, RestingOrder
from tsa_bot.trading.run import TradingRun, utc

log = logging.getLogger(__name__)
WAREHOUSE_HOST = "warehouse"  # the api_host of a backfill run: its market data came from the warehouse


# ---- the steps, on an engine, a configuration and a client ---------------------------------------------


def _base_of(run: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": run["run_id"], "mode": run["mode"], "event_ticker": run["event_ticker"]}


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
        skipped = {**_base_of(run), "skipped": run["skip_reason"]} if run["status"] == "skipped" else None
        done = skipped or run["steps"].get("fetch")
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
    moment = utc(as_of)
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
        (ev, q.ticker, direction)
        for q in quotes
        for ev, direction in ((q.ev_yes, "yes"), (q.ev_no, "no"))
        if ev is not None
    ]
    if not candidates:
        return {"best_edge": None, "best_ticker": None, "best_side": None}
    ev, ticker, direction = max(candidates)
    return {"best_edge": str(ev), "best_ticker": ticker, "best_side": direction}  # best_side: a stored key


def price_step(run: TradingRun, probabilities: Mapping[int | str, float]) -> dict[str, Any]:
    """Quote every strike of the run's snapshot against the forecaster's ``{strike: P(mean > strike)}``."""
    skipped = run.skipped()
    if skipped is not None:
        return skipped
    if "decide" in run.steps:
        return dict(run.steps["price"])  # decisions were made from these quotes: keep them
    # JSON (XCom, jsonb) turns integer keys into strings.
    probs = {int(k): float(v) for k, v in probabilities.items()}
    quotes = price_strikes(probs, run.market_snapshot())
    result = {**run.base(), "quotes": len(quotes), **_best_edge(quotes)}
    with run.engine.begin() as conn:
        store.save_quotes(conn, run.run_id, run.event_ticker, quotes)
        store.record_step(conn, run.run_id, "price", result)
    return result


def _open_book(conn: sa.Connection, run: TradingRun, client: KalshiClient | None) -> tuple[Broker, Decimal]:
    """The broker for the run's mode, and the P&L realised on the run's day (for the daily-loss limit)."""
    mode = run.mode
    realised_today = store.realised_pnl_on(conn, mode, utc(run.row["as_of"]).date())
    if run.config.mode is TradingMode.PAPER:
        paper_fills = store.fills_for_mode(conn, mode)  # every event: total exposure counts them all
        settled = store.settled_tickers(conn, mode)
        bankroll = run.config.paper_bankroll + store.realised_pnl_total(conn, mode)
        snapshot = run.market_snapshot()
        resting = store.resting_orders(conn, mode)
        broker = PaperBroker(snapshot, snapshot.fees, paper_fills, settled, bankroll, resting, run.moment)
        return broker, realised_today
    if client is None:
        raise ConfigurationError(f"a {mode} run needs a Kalshi client to trade")
    return ExchangeBroker(client, mode), realised_today


def _catch_up(run: TradingRun, client: KalshiClient | None) -> None:
    """Before exposure is read. Demo and live: record orders of ours the warehouse never heard back about
    (this run's or another's), and the fills of every order of the event. Paper: fill the resting (maker)
    orders this run's snapshot shows were met."""
    if run.config.mode is TradingMode.PAPER:
        fill_paper_resting(run)
    elif client is not None:
        adopt_orders(client, run.engine, run.run_id, run.event_ticker, run.mode)
        sync_fills(run.engine, client, run.event_ticker, run.mode)


def _learned_weight(run: TradingRun) -> tuple[TradingConfig, str | None, dict[str, Any], EdgeRecord | None]:
    """For a policy that learns the market's weight: the config with the weight chosen at the run's moment
    and known-days count, where it came from (said in the reasons), the step result's keys that record it,
    and for a policy sized by its record (``recorded``) the record at that count (``pricing.record``).
    Both are learned from one read of the scored history."""
    config = run.config
    if not POLICIES[config.policy].learns_market_weight:
        return config, None, {}, None
    known = event_known_days(run.event_ticker, run.moment)
    needs_record = POLICIES[config.policy].needs_record
    record = None
    chosen = pinned_weight(run.params, config.market_weight, known)
    if chosen is None or needs_record:  # read once, and only when the weight or the record learns from it
        history = scored_history(run.engine, run.moment)
        chosen = chosen or history.learned_weight(known)
        if needs_record:
            record = edge_record(history.weeks, run.moment, known, float(chosen.weight))
    recorded: dict[str, Any] = {
        "market_weight": str(chosen.weight),
        "market_weight_source": chosen.source,
        "market_weight_known_days": chosen.known_days,
        "market_weight_weeks": chosen.weeks,
        "market_weight_history_weeks": chosen.history_weeks,
        "market_weight_reason": chosen.reason,
    }
    if record is not None:
        recorded.update(
            record_known_days=known,
            record_verdict=record.verdict,
            record_weeks=record.weeks,
            record_factor=str(record.factor),
            record_reason=record.reason,
        )
    return replace(config, market_weight=chosen.weight), chosen.reason, recorded, record


def decide_step(run: TradingRun, *, client: KalshiClient | None) -> dict[str, Any]:
    """Cancel stale orders of earlier runs, then decide (and save) what to buy in every market."""
    skipped = run.skipped()
    if skipped is not None:
        return skipped
    if "decide" in run.steps:
        return dict(run.steps["decide"])
    if "price" not in run.steps:
        raise ConfigurationError(f"trading run '{run.run_id}' has no quotes: the price task must run first")
    snapshot = run.market_snapshot()
    config, weight_note, weighed, record = _learned_weight(run)
    with exposure_lock(run.engine, run.account):
        _catch_up(run, client)
        with run.engine.begin() as conn:
            broker, realised_today = _open_book(conn, run, client)
            quotes = store.load_quotes(conn, run.run_id)
            ours = store.our_orders(conn, run.event_ticker, run.mode)
        maker = config.execution is Execution.MAKER
        cancelled, kept = 0, []
        if maker:  # place_step amends or cancels them; the decision is made as if they were gone
            kept = stale_orders(broker, run.run_id, run.event_ticker, ours)
        else:
            cancelled = cancel_stale(broker, run.engine, run.run_id, run.event_ticker, ours)
        state = broker.exposure(run.event_ticker, ours)
        gone = {o.client_order_id for o in kept}
        resting = tuple(o for o in state.resting if o.client_order_id not in gone)
        state = ExposureState(state.holdings, resting, realised_today, state.bankroll)
        decisions = decide(
            run.run_id, quotes, snapshot, state, config, weight_note=weight_note, record=record
        )
        if maker:
            books = {b.ticker: b for b in snapshot.books}
            decisions = [as_maker(d, books[d.ticker], snapshot.fees) for d in decisions]
    result = {
        **run.base(),
        "decisions": len(decisions),
        "buys": sum(1 for d in decisions if d.action != Action.NONE),
        "cancelled_stale": cancelled,
        "execution": config.execution.value,
        **weighed,
    }
    with run.engine.begin() as conn:  # all the decisions or none, and the step marked done with them
        for d in decisions:
            store.save_decision(conn, run.run_id, d)
        store.record_step(conn, run.run_id, "decide", result)
    return result


def place_step(run: TradingRun, *, client: KalshiClient | None) -> dict[str, Any]:
    """Risk-check each buy decision and place it at most once; record rejections with their reasons."""
    skipped = run.skipped()
    if skipped is not None:
        return skipped
    if "decide" not in run.steps:
        raise ConfigurationError(
            f"trading run '{run.run_id}' has no decisions: the decide task must run first"
        )
    with exposure_lock(run.engine, run.account):
        run = run.reloaded()  # as it is now: another attempt may have finished meanwhile
        _catch_up(run, client)
        with run.engine.begin() as conn:
            broker, realised_today = _open_book(conn, run, client)
            decisions = [(i, d) for i, d in store.load_decisions(conn, run.run_id) if d.action != Action.NONE]
            ours = store.our_orders(conn, run.event_ticker, run.mode)
            rejected_before = store.rejections_for_run(conn, run.run_id)
        # Everything on the exchange (or in the paper book) is in here, this run's earlier orders included.
        state = broker.exposure(run.event_ticker, ours)
        state = ExposureState(state.holdings, state.resting, realised_today, state.bankroll)
        first_record = "place" not in run.steps

        result: dict[str, Any] = {
            **run.base(),
            "orders": 0,
            "already_placed": 0,
            "rejected": 0,
            "filled": "0",
            "amended": 0,
            "cancelled_stale": 0,
        }
        filled_total = ZERO
        replaceable = _settle_stale_orders(run, broker, decisions, ours, result)
        gone = {o.client_order_id for group in replaceable.values() for o in group}
        state = replace(state, resting=tuple(o for o in state.resting if o.client_order_id not in gone))
        for decision_id, d in decisions:
            assert d.client_order_id is not None
            existing = ours.get(d.client_order_id)  # the ledger's row: in the event, in the run's mode
            stale = replaceable.pop((d.ticker, d.direction), [])
            placed_before = existing is not None and bool(existing["order_id"])
            amend = None
            if d.ticker in rejected_before and not placed_before:
                outcome, filled, sent_now = "rejected", ZERO, False  # the earlier attempt's verdict stands
            else:
                amend = stale[0] if stale and not placed_before else None
                outcome, filled, sent_now = execute(run, d, decision_id, existing, broker, state, amend)
            # Every stale order not amended into this decision's order ends here.
            for order in stale if amend is None or outcome == "rejected" else stale[1:]:
                why = f"stale: not amended by run {run.run_id} ({outcome})"
                cancel_order(broker, run.engine, order, why)
                result["cancelled_stale"] += 1
            if amend is not None and outcome == "orders":
                result["amended"] += 1
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
            with run.engine.begin() as conn:
                store.record_step(conn, run.run_id, "place", result)
    return result


def _settle_stale_orders(
    run: TradingRun,
    broker: Broker,
    decisions: list[tuple[int, Any]],
    ours: Mapping[str, Mapping[str, Any]],
    result: dict[str, Any],
) -> dict[tuple[str, str], list[RestingOrder]]:
    """Maker execution: earlier runs' resting orders in the event, by market and direction. Those no decision
    of this run still wants are cancelled here (first: that frees their exposure); the others are returned
    for :func:`execute` to amend into the decision's order. Taker runs cancelled them in ``decide_step``."""
    if run.config.execution is not Execution.MAKER:
        return {}
    wanted = {(d.ticker, d.direction) for _, d in decisions}
    by_key: dict[tuple[str, str], list[RestingOrder]] = {}
    for order in stale_orders(broker, run.run_id, run.event_ticker, ours):
        if (order.ticker, order.direction) in wanted:
            by_key.setdefault((order.ticker, order.direction), []).append(order)
        else:
            cancel_order(broker, run.engine, order, f"stale: run {run.run_id} no longer wants it")
            result["cancelled_stale"] += 1
    return by_key


def reconcile_step(run: TradingRun, *, client: KalshiClient | None) -> dict[str, Any]:
    """Sync fills (demo/live), record the event's positions and finish the run with its summary."""
    skipped = run.skipped()
    if skipped is not None:
        return skipped
    event_ticker, mode = run.event_ticker, run.mode
    added = 0
    if run.config.mode is TradingMode.PAPER:
        with run.engine.begin() as conn:
            positions = paper_positions(
                store.fills_for_event(conn, event_ticker, mode), store.settled_tickers(conn, mode)
            )
    else:
        if client is None:
            raise ConfigurationError(f"a {mode} run needs a Kalshi client to reconcile")
        added = sync_fills(run.engine, client, event_ticker, mode)
        positions = [
            {
                "ticker": p.ticker,
                "position": p.position_fp,
                "exposure": p.market_exposure_dollars,
                "fees": p.fees_paid_dollars,
            }
            for p in client.positions(event_ticker=event_ticker).market_positions
            if in_event(p.ticker, event_ticker) and p.position_fp != 0
        ]
    with run.engine.begin() as conn:
        recorded = store.save_positions(conn, run.run_id, mode, event_ticker, positions)
        fills = len(store.fills_for_run(conn, run.run_id))
        resting = sum(
            1 for o in store.our_orders(conn, event_ticker, mode).values() if o["status"] == "resting"
        )
    result = {
        **run.base(),
        "fills": fills,
        "new_fills": added,
        "positions": recorded,
        "resting_orders": resting,
    }
    steps = run.steps
    final = {
        **run.base(),
        "decisions": steps.get("decide", {}).get("decisions", 0),
        "cancelled_stale": steps.get("decide", {}).get("cancelled_stale", 0)
        + steps.get("place", {}).get("cancelled_stale", 0),
        **{
            k: steps.get("place", {}).get(k, 0)
            for k in ("orders", "already_placed", "rejected", "filled", "amended")
        },
    }
    final.update(fills=fills, positions=recorded)
    with run.engine.begin() as conn:
        store.record_step(conn, run.run_id, "reconcile", result)
        store.finish_run(conn, run.run_id, final)
    log.info("trading run %s: %s", run.run_id, final)
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
        if mode == TradingMode.PAPER.value and outcomes:
            # The paper book's resting orders end with the market, as the exchange's do at its close.
            for row in store.resting_orders(conn, mode, event_ticker):
                if row["ticker"] in outcomes:
                    store.set_order_status(
                        conn,
                        "canceled",
                        "the market closed",
                        client_order_id=row["client_order_id"],
                        only_from="resting",
                    )
        recorded, total = settle_book(conn, mode, event_ticker, outcomes)
    return {"event_ticker": event_ticker, "mode": mode, "positions_settled": recorded, "pnl": str(total)}
