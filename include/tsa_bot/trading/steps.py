"""Trading as separate steps, one Airflow task each: fetch -> price -> decide -> place -> reconcile.

Each public step is one call that runs without Airflow, takes the DAG run's key and params, reads what
it needs from the warehouse by that key and returns small JSON (ids, counts, keys). Each is idempotent
for its run: a retry after its side effect writes the same rows and never sends a second order.

- ``fetch_market`` records the run (``trading_runs``) and its market snapshot. When the exchange is
  not trading or the event does not exist, it records the run as *skipped*, and every later step
  returns ``{"skipped": reason}``. A backfill run contacts no exchange: it reuses the latest snapshot
  of the event recorded by ``as_of``, or skips.
- ``price_market`` saves one quote per strike (``trading_quotes``).
- ``decide_orders`` cancels stale resting orders of earlier runs, then saves one decision per strike.
  Once done it is not recomputed: after orders are placed the exposure it sized against has changed.
- ``place_orders`` risk-checks each decision and places it at most once; a decision rejected once
  stays rejected on a retry.
- ``reconcile`` syncs fills, records positions and finishes the run.

The ``_step`` functions below take an engine, a configuration and a client, so that ``run_trading``
composes them with the caller's own client.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.errors import ConfigurationError
from tsa_bot.kalshi.client import KalshiClient, event_ticker_for_week, host_of
from tsa_bot.kalshi.errors import KalshiNotFound
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote, price_strikes
from tsa_bot.trading import store
from tsa_bot.trading.brokers import Broker, ExchangeBroker, PaperBroker
from tsa_bot.trading.config import TradingConfig, TradingMode, client_for_mode
from tsa_bot.trading.decide import decide
from tsa_bot.trading.execution import (
    account_of,
    adopt_orders,
    cancel_stale,
    execute,
    exposure_lock,
    sync_fills,
)
from tsa_bot.trading.risk import ExposureState, RestingOrder
from tsa_bot.trading.run import _guard, settle_event, take_snapshot

log = logging.getLogger(__name__)
ZERO = Decimal(0)
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
        store.skip_run(conn, run_id, reason, result)
    log.info("trading run %s skipped: %s", run_id, reason)
    return result


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
        _guard(config, client, params)
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
        decisions = decide(run_id, quotes, snapshot, state, config)
    result = {
        **_base(run),
        "decisions": len(decisions),
        "buys": sum(1 for d in decisions if d.action != "none"),
        "cancelled_stale": cancelled,
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
        return _place_locked(engine, run_id, config, client)


def _place_locked(
    engine: sa.Engine, run_id: str, config: TradingConfig, client: KalshiClient | None
) -> dict[str, Any]:
    run = _load_run(engine, run_id, config)  # as it is now: another attempt may have finished meanwhile
    event_ticker, mode = run["event_ticker"], run["mode"]
    snapshot = _snapshot_of(engine, run_id)
    broker, realised_today = _book_state(engine, run, snapshot, config, client)
    if isinstance(broker, ExchangeBroker):
        # Orders of ours the warehouse never heard back about (this run's or another's): record them.
        adopt_orders(broker.client, engine, run_id, event_ticker, mode)
        sync_fills(engine, broker.client, event_ticker, mode)
    with engine.begin() as conn:
        decisions = [(i, d) for i, d in store.load_decisions(conn, run_id) if d.action != "none"]
        ours = store.our_orders(conn, event_ticker, mode)
        rejected_before = store.rejections_for_run(conn, run_id)
    # Everything on the exchange (or in the paper book) is in here, this run's earlier orders included.
    state = broker.exposure(event_ticker, ours)
    state = ExposureState(state.holdings, state.resting, realised_today, state.bankroll)
    first_record = "place" not in run["steps"]

    result: dict[str, Any] = {**_base(run), "orders": 0, "already_placed": 0, "rejected": 0, "filled": "0"}
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


def _paper_positions(fills: list[Mapping[str, Any]], settled: set[str]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in fills:
        if f["ticker"] in settled:
            continue
        p = out.setdefault(
            f["ticker"], {"ticker": f["ticker"], "position": ZERO, "exposure": ZERO, "fees": ZERO}
        )
        bought_yes = f["book_side"] == "bid"
        p["position"] += f["count"] if bought_yes else -f["count"]
        p["exposure"] += f["count"] * (f["yes_price"] if bought_yes else 1 - f["yes_price"])
        p["fees"] += f["fee"]
    return [p for p in out.values() if p["position"] != 0]


def reconcile_step(
    engine: sa.Engine,
    run_id: str,
    *,
    config: TradingConfig,
    client: KalshiClient | None,
    summary: Mapping[str, Any] | None = None,
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
            positions = _paper_positions(
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
    final = (
        dict(summary)
        if summary is not None
        else {
            **_base(run),
            "decisions": steps.get("decide", {}).get("decisions", 0),
            "cancelled_stale": steps.get("decide", {}).get("cancelled_stale", 0),
            **{
                k: steps.get("place", {}).get(k, 0)
                for k in ("orders", "already_placed", "rejected", "filled")
            },
        }
    )
    final.update(fills=fills, positions=recorded)
    with engine.begin() as conn:
        store.record_step(conn, run_id, "reconcile", result)
        store.finish_run(conn, run_id, final)
    log.info("trading run %s: %s", run_id, final)
    return result


# ---- the Airflow-facing steps: configuration from params over the environment -----------------------------


def _engine(warehouse_url: str | None) -> sa.Engine:
    from tsa_bot.warehouse.engine import get_engine

    return get_engine(warehouse_url)


@contextlib.contextmanager
def _client(
    config: TradingConfig,
    params: Mapping[str, Any],
    private_key_pem: bytes | None,
    *,
    needed: bool = True,
    read_only: bool = False,
) -> Iterator[KalshiClient | None]:
    """The mode's client, or None where the step needs none (a backfill; the paper book after fetch)."""
    if config.backfill or not needed:
        yield None
        return
    extra = {"private_key_pem": private_key_pem} if private_key_pem else {}
    with client_for_mode(config, params, read_only=read_only, **extra) as client:
        yield client


def fetch_market(
    run_key: str,
    week_start: date,
    *,
    params: Mapping[str, Any] | None,
    warehouse_url: str | None = None,
    private_key_pem: bytes | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Start the trading run and record its snapshot of the week's event (or why it is skipped).

    Returns ``{run_id, mode, event_ticker, snapshot_id, snapshot_source_run, markets, taken_at}`` or
    ``{run_id, mode, event_ticker, skipped}``.
    """
    params = dict(params or {})
    config = TradingConfig.from_params(params)
    engine = _engine(warehouse_url)
    event_ticker = event_ticker_for_week(week_start)
    with _client(config, params, private_key_pem) as client:
        return fetch_step(
            engine, run_key, event_ticker, config=config, client=client, params=params, as_of=as_of
        )


def price_market(
    run_key: str,
    *,
    probabilities: Mapping[int, float] | Mapping[str, float],
    params: Mapping[str, Any] | None,
    warehouse_url: str | None = None,
) -> dict[str, Any]:
    """Quote every strike.

    Returns ``{run_id, mode, event_ticker, quotes, best_edge, best_ticker, best_side}``.
    """
    config = TradingConfig.from_params(params)
    return price_step(_engine(warehouse_url), run_key, probabilities, config=config)


def _exchange_step(
    step: Callable[..., dict[str, Any]],
    run_key: str,
    params: Mapping[str, Any] | None,
    warehouse_url: str | None,
    private_key_pem: bytes | None,
    cached_step: str | None = None,
) -> dict[str, Any]:
    """Run a step that may need the exchange, building a client only when it will really be used."""
    params = dict(params or {})
    config = TradingConfig.from_params(params)
    engine = _engine(warehouse_url)
    needed = config.mode is not TradingMode.PAPER and _needs_work(engine, run_key, config, cached_step)
    with _client(config, params, private_key_pem, needed=needed) as client:
        return step(engine, run_key, config=config, client=client)


def decide_orders(
    run_key: str,
    *,
    params: Mapping[str, Any] | None,
    warehouse_url: str | None = None,
    private_key_pem: bytes | None = None,
) -> dict[str, Any]:
    """Cancel stale orders of earlier runs and decide.

    Returns ``{run_id, mode, event_ticker, decisions, buys, cancelled_stale}``.
    """
    return _exchange_step(decide_step, run_key, params, warehouse_url, private_key_pem, cached_step="decide")


def place_orders(
    run_key: str,
    *,
    params: Mapping[str, Any] | None,
    warehouse_url: str | None = None,
    private_key_pem: bytes | None = None,
) -> dict[str, Any]:
    """Risk-check and place the decisions, each at most once.

    Returns ``{run_id, mode, event_ticker, orders, already_placed, rejected, filled}``.
    """
    return _exchange_step(place_step, run_key, params, warehouse_url, private_key_pem)


def reconcile(
    run_key: str,
    *,
    params: Mapping[str, Any] | None,
    warehouse_url: str | None = None,
    private_key_pem: bytes | None = None,
) -> dict[str, Any]:
    """Sync fills, record positions, finish the run.

    Returns ``{run_id, mode, event_ticker, fills, new_fills, positions, resting_orders}``.
    """
    return _exchange_step(reconcile_step, run_key, params, warehouse_url, private_key_pem)


def _needs_work(engine: sa.Engine, run_key: str, config: TradingConfig, cached_step: str | None) -> bool:
    """False when the step will return without the exchange: the run was skipped, or the step is done."""
    run = _load_run(engine, run_key, config)
    return run["status"] != "skipped" and (cached_step is None or cached_step not in run["steps"])


def settle(
    day: date,
    *,
    params: Mapping[str, Any] | None,
    warehouse_url: str | None = None,
    private_key_pem: bytes | None = None,
) -> dict[str, Any]:
    """Record the P&L of the week containing ``day`` once Kalshi has settled it (reads only).

    Returns ``{event_ticker, mode, positions_settled, pnl}``, or ``{event_ticker, mode, skipped}`` for
    a backfill (it contacts no exchange; paper positions settle from TSA's first-published numbers).
    """
    params = dict(params or {})
    config = TradingConfig.from_params(params)
    event_ticker = event_ticker_for_week(day)
    if config.backfill:
        return {
            "event_ticker": event_ticker,
            "mode": config.mode.value,
            "skipped": "backfill: no exchange is contacted; paper positions settle from TSA's numbers",
        }
    # Settlement only reads: a read-only client; live still needs its configuration opt-in.
    client_params = {**params, "live": True} if config.mode is TradingMode.LIVE else params
    with _client(config, client_params, private_key_pem, read_only=True) as client:
        assert client is not None
        return settle_event(event_ticker, engine=_engine(warehouse_url), client=client, mode=config.mode)
