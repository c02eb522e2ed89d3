"""Sending orders safely: one run at a time per account, every order written down before it is sent.

- :func:`exposure_lock`: an account-wide Postgres advisory lock. Reading exposure, deciding and sending
  happen under it, so two overlapping runs (a manual run beside a scheduled one, two schedulers) queue
  instead of both spending the same limit.
- The order ledger (``trading_orders``): :func:`execute` writes each intended order (``pending``) before
  it is sent, and updates it with the exchange's answer.
- :func:`adopt_orders`: any order of ours on the exchange the warehouse lacks or never heard back about,
  from any run, is recorded, so that it is counted, its fills are synced, and a stale remainder is
  cancelled. Our ``client_order_id`` s are recognisable (:func:`tsa_bot.trading.decide.is_our_order_id`).
- Maker execution keeps an earlier run's resting order where the new decision still wants that market and
  direction: :func:`execute` amends it (new price, new remaining, this run's ``client_order_id``) instead of
  cancelling and placing again, and :func:`cancel_unwanted` cancels the others. The amended order's row
  names the row it replaced (``amends``), which is marked ``amended``; a lost amend answer is found again
  by its new ``client_order_id`` like a lost placement.
- :func:`fill_paper_resting`: the paper book's resting (maker) orders fill against a later run's snapshot.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.market import ZERO, in_event
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.errors import KalshiError
from tsa_bot.trading import store
from tsa_bot.trading.brokers import Broker
from tsa_bot.trading.decide import Decision, is_our_order_id
from tsa_bot.trading.maker import order_expiry, paper_maker_fills
from tsa_bot.trading.risk import ExposureState, RestingOrder, check_order
from tsa_bot.trading.run import TradingRun
from tsa_bot.trading.store import FillRecord

log = logging.getLogger(__name__)


@contextlib.contextmanager
def exposure_lock(engine: sa.Engine, account: str) -> Iterator[None]:
    """Hold the account's advisory lock for the block: exposure read -> decide -> send, one run at a time.

    A session lock on a connection of its own: released at the end of the block, or by Postgres when the
    process dies, so a killed worker never leaves it held.
    """
    digest = hashlib.sha256(f"tsa-bot exposure|{account}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with engine.connect() as conn:
        conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def adopt_orders(client: KalshiClient, engine: sa.Engine, run_id: str, event_ticker: str, mode: str) -> int:
    """Record each order of ours in the event the exchange has and the warehouse lacks; returns the count.

    An order written ``pending`` and then lost (its answer dropped, every look-up failed) gets its id and
    state; an order with our id and no row at all (a warehouse restored from a backup) gets a row under
    this run. Pending orders of other runs that never reached the exchange are marked ``unsent``: under
    the lock no other run can still be sending them.
    """
    on_exchange = [o for o in client.orders(event_ticker=event_ticker) if in_event(o.ticker, event_ticker)]
    seen = {o.client_order_id for o in on_exchange}
    adopted = 0
    with engine.begin() as conn:
        ours = store.our_orders(conn, event_ticker, mode)
        for order in on_exchange:
            known = ours.get(order.client_order_id)
            ended = order.status in ("canceled", "executed")
            if known is not None and known["status"] == "resting" and ended:
                # Ended on the exchange without us: expired before the close, cancelled by hand, or filled.
                store.set_order_status(
                    conn,
                    order.status,
                    f"the exchange reports it {order.status} (seen by run {run_id})",
                    client_order_id=order.client_order_id,
                    only_from="resting",
                )
            # An amend keeps the exchange's order and gives it a new client_order_id: a row under an older
            # one of ours is the order before the amend (the amend's answer may have been lost).
            for coid, row in ours.items():
                replaced = row["order_id"] == order.order_id and coid != order.client_order_id
                if replaced and row["status"] not in ("amended", "canceled", "executed", "unsent"):
                    store.set_order_status(
                        conn,
                        "amended",
                        f"amended into {order.client_order_id} (found on the exchange by run {run_id})",
                        client_order_id=coid,
                    )
            known = ours.get(order.client_order_id)
            if known is not None and known["order_id"]:
                continue
            if known is None and not is_our_order_id(order.client_order_id):
                continue  # placed by hand: not ours to record or cancel
            store.adopt_order(conn, run_id=run_id, mode=mode, event_ticker=event_ticker, order=order)
            log.info("adopted order %s (%s) found on the exchange", order.order_id, order.client_order_id)
            adopted += 1
        for coid, row in ours.items():
            if row["status"] == "pending" and row["run_id"] != run_id and coid not in seen:
                store.set_order_status(
                    conn,
                    "unsent",
                    f"never reached the exchange (seen by run {run_id})",
                    client_order_id=coid,
                    only_from="pending",
                )
    return adopted


def sync_fills(engine: sa.Engine, client: KalshiClient, event_ticker: str, mode: str) -> int:
    """Fetch the exchange's fills of every order we placed in the event (resting orders fill later)."""
    with engine.begin() as conn:
        # An amended row's order lives on under the row that amended it, which fetches its fills.
        orders = [
            o
            for o in store.our_orders(conn, event_ticker, mode).values()
            if o["order_id"] and o["status"] != "amended"
        ]
    added = 0
    for o in orders:
        fills = [
            FillRecord(
                f.fill_id,
                f.order_id,
                o["client_order_id"],
                f.ticker,
                f.book_side or o["book_side"],
                f.count_fp,
                f.yes_price_dollars,
                f.fee_cost,
                f.is_taker,
                f.created_time or datetime.now(UTC),
            )
            for f in client.fills(order_id=o["order_id"])
        ]
        with engine.begin() as conn:
            added += store.save_fills(conn, mode, event_ticker, fills)
            store.set_filled(conn, o["client_order_id"], sum((f.count for f in fills), ZERO))
    return added


def stale_orders(
    broker: Broker, run_id: str, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]
) -> list[RestingOrder]:
    """Our resting orders in this event placed by earlier runs (not by hand, not this run's decisions)."""
    out = []
    for order in broker.resting(event_ticker, ours):
        mine = ours.get(order.client_order_id)
        if mine is None or (mine["run_id"] == run_id and mine["decision_id"] is not None):
            continue  # not ours (manual), or one of this run's decisions on a retry
        out.append(order)
    return out


def cancel_order(broker: Broker, engine: sa.Engine, order: RestingOrder, reason: str) -> None:
    """Cancel one resting order of ours and say why in the ledger (an already-gone order is fine)."""
    broker.cancel(order.order_id)
    with engine.begin() as conn:
        store.set_order_status(conn, "canceled", reason, client_order_id=order.client_order_id)


def cancel_stale(
    broker: Broker, engine: sa.Engine, run_id: str, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]
) -> int:
    """Cancel our resting orders in this event placed by earlier runs: this run re-decides from scratch."""
    stale = stale_orders(broker, run_id, event_ticker, ours)
    for order in stale:
        cancel_order(broker, engine, order, f"stale: superseded by run {run_id}")
    return len(stale)


def fill_paper_resting(run: TradingRun) -> int:
    """Fill the paper book's resting orders in the run's event that its snapshot shows were met (as a maker:
    :func:`tsa_bot.trading.maker.paper_maker_fills`), and expire those past their expiry; returns the fills.

    Idempotent: a fill's id is the order's and the snapshot's, so a retried step adds nothing.
    """
    snapshot = run.market_snapshot()
    taken_at = snapshot.taken_at or run.moment
    added = 0
    with run.engine.begin() as conn:
        resting = store.resting_orders(conn, "paper", run.event_ticker)
        met = paper_maker_fills(resting, replace(snapshot, taken_at=taken_at), snapshot.fees)
        for f in met:
            record = FillRecord(
                f"{f.order_id}-maker-{taken_at.isoformat()}",
                f.order_id,
                f.client_order_id,
                f.ticker,
                f.book_side,
                f.count,
                f.yes_price,
                f.fee,
                False,
                taken_at,
            )
            if store.save_fills(conn, "paper", run.event_ticker, [record]):
                row = next(r for r in resting if r["client_order_id"] == f.client_order_id)
                store.set_filled(conn, f.client_order_id, row["filled_count"] + f.count)
                added += 1
        for row in resting:
            if row["expires_at"] is not None and row["expires_at"] <= taken_at:
                store.set_order_status(
                    conn,
                    "canceled",
                    "expired: resting orders end before the market closes",
                    client_order_id=row["client_order_id"],
                    only_from="resting",
                )
    return added


def execute(
    run: TradingRun,
    d: Decision,
    decision_id: int,
    existing: Mapping[str, Any] | None,
    broker: Broker,
    state: ExposureState,
    replaces: RestingOrder | None = None,
) -> tuple[str, Decimal, bool]:
    """Risk-check, then place at most once; ``existing`` is the ledger's row of the order, if any.

    ``replaces``: an earlier run's resting order in the same market and direction, amended into this
    decision's order instead of placing a new one. ``state`` must not count it (the caller took it out).

    Returns (``orders`` | ``already_placed`` | ``rejected``, contracts filled, sent now): ``sent now`` is
    True only for an order this call sent, the one case the caller's exposure does not yet contain.
    """
    assert d.client_order_id is not None
    engine, run_id, config = run.engine, run.run_id, run.config
    if existing is not None and existing["order_id"]:
        return "already_placed", ZERO, False

    violations = check_order(d.intent(), state, config.limits)
    if violations:
        with engine.begin() as conn:
            for v in violations:
                numbers = {
                    "limit": str(v.limit),
                    "value": str(v.value),
                    "count": str(d.count),
                    "price": str(d.limit_price),
                    "ev": str(d.ev_per_contract),
                }
                store.save_rejection(conn, run_id, decision_id, d.ticker, "risk", v.code, v.reason, numbers)
        return "rejected", ZERO, False

    # An exchange's expiry is on its clock; the paper book's on the run's moment (a backfill's past).
    request = d.order_request(
        config.time_in_force, expiration_time=order_expiry(d.event_ticker, broker.now())
    )
    amends = replaces.client_order_id if replaces is not None else None
    with engine.begin() as conn:  # the ledger first: an order is never sent without its row
        store.record_intent(
            conn,
            run_id=run_id,
            decision_id=decision_id,
            mode=broker.mode,
            d=d,
            request=request,
            amends=amends,
        )
    try:
        placement = broker.place(d, request) if replaces is None else broker.amend(replaces, d, request)
    except KalshiError as exc:
        if exc.retryable:
            raise  # the task retries; the same client_order_id keeps it idempotent
        with engine.begin() as conn:
            numbers = {"count": str(d.count), "price": str(d.limit_price), "status": exc.status}
            store.save_rejection(
                conn,
                run_id,
                decision_id,
                d.ticker,
                "exchange",
                exc.code or type(exc).__name__,
                str(exc),
                numbers,
            )
            store.set_order_status(
                conn,
                "unsent",
                f"refused by the exchange: {exc}",
                client_order_id=d.client_order_id,
                only_from="pending",
            )
        return "rejected", ZERO, False
    with engine.begin() as conn:
        store.save_order(
            conn,
            run_id=run_id,
            decision_id=decision_id,
            mode=broker.mode,
            d=d,
            book_side=request.book_side,
            yes_price=request.price,
            order_id=placement.order_id,
            status=placement.status,
            filled=placement.filled,
            already_existed=placement.already_existed,
            total_count=placement.total_count,
        )
        store.save_fills(conn, broker.mode, d.event_ticker, placement.fills)
        if replaces is not None:
            store.set_order_status(
                conn,
                "amended",
                f"amended into {d.client_order_id} by run {run_id}",
                client_order_id=replaces.client_order_id,
            )
    # An order that already existed was on the exchange when the exposure was read: it is counted there.
    outcome = "already_placed" if placement.already_existed else "orders"
    return outcome, placement.filled, not placement.already_existed
