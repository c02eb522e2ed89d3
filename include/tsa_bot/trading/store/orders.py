"""The run's decisions, their rejections, and the order ledger (``trading_orders``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.market import Action, BookSide, Direction
from tsa_bot.kalshi.models import Order, OrderRequest
from tsa_bot.trading.decide import Decision
from tsa_bot.trading.store.runs import json_text


def save_decision(conn: sa.Connection, run_id: str, d: Decision) -> int:
    """Insert or (on a retried run) update the run's decision for this market; returns its id."""
    new_id = conn.execute(
        sa.text(
            "insert into trading_decisions (run_id, event_ticker, ticker, strike, fair_yes, raw_fair_yes,"
            " action, count, limit_price, fee_per_contract, ev_per_contract, kelly_contracts,"
            " client_order_id, reason, liquidity)"
            " values (:r, :e, :t, :k, :f, :rf, :a, :c, :lp, :fee, :ev, :kc, :coid, :why, :liq)"
            " on conflict (run_id, ticker) do update set fair_yes = excluded.fair_yes,"
            " raw_fair_yes = excluded.raw_fair_yes, action = excluded.action, count = excluded.count,"
            " limit_price = excluded.limit_price, fee_per_contract = excluded.fee_per_contract,"
            " ev_per_contract = excluded.ev_per_contract, kelly_contracts = excluded.kelly_contracts,"
            " client_order_id = excluded.client_order_id, reason = excluded.reason,"
            " liquidity = excluded.liquidity, created_at = now()"
            # A decision that was acted on is history: a retried run must not rewrite it.
            " where trading_decisions.action = 'none'"
            " returning id"
        ),
        {
            "r": run_id,
            "e": d.event_ticker,
            "t": d.ticker,
            "k": d.strike,
            "f": d.fair_yes,
            "rf": d.raw_fair_yes,
            "a": d.action,
            "c": d.count,
            "lp": d.limit_price,
            "fee": d.fee_per_contract,
            "ev": d.ev_per_contract,
            "kc": d.kelly_contracts,
            "coid": d.client_order_id,
            "why": d.reason,
            "liq": d.liquidity,
        },
    ).scalar_one_or_none()
    if new_id is not None:
        return new_id
    return conn.execute(
        sa.text("select id from trading_decisions where run_id = :r and ticker = :t"),
        {"r": run_id, "t": d.ticker},
    ).scalar_one()


def load_decisions(conn: sa.Connection, run_id: str) -> list[tuple[int, Decision]]:
    """The run's decisions with their ids, lowest strike first (the order they were made in)."""
    rows = conn.execute(
        sa.text("select * from trading_decisions where run_id = :r order by strike, ticker"), {"r": run_id}
    ).mappings()
    return [
        (
            r["id"],
            Decision(
                event_ticker=r["event_ticker"],
                ticker=r["ticker"],
                strike=r["strike"],
                fair_yes=r["fair_yes"],
                raw_fair_yes=r["raw_fair_yes"],
                action=Action(r["action"]),
                count=r["count"],
                limit_price=r["limit_price"],
                fee_per_contract=r["fee_per_contract"],
                ev_per_contract=r["ev_per_contract"],
                kelly_contracts=r["kelly_contracts"],
                client_order_id=r["client_order_id"],
                reason=r["reason"],
                liquidity=r["liquidity"],
            ),
        )
        for r in rows
    ]


def rejections_for_run(conn: sa.Connection, run_id: str) -> set[str]:
    """Tickers whose decision in this run was rejected (by the risk check or by the exchange)."""
    rows = conn.execute(
        sa.text("select distinct ticker from trading_rejections where run_id = :r"), {"r": run_id}
    )
    return {r[0] for r in rows}


def save_rejection(
    conn: sa.Connection,
    run_id: str,
    decision_id: int | None,
    ticker: str,
    stage: str,
    code: str,
    reason: str,
    numbers: Mapping[str, Any],
) -> None:
    conn.execute(
        sa.text(
            "insert into trading_rejections (run_id, decision_id, ticker, stage, code, reason, numbers)"
            " values (:r, :d, :t, :s, :c, :why, cast(:n as jsonb))"
            " on conflict (run_id, ticker, stage, code) do nothing"
        ),
        {
            "r": run_id,
            "d": decision_id,
            "t": ticker,
            "s": stage,
            "c": code,
            "why": reason,
            "n": json_text(numbers),
        },
    )


def save_order(
    conn: sa.Connection,
    *,
    run_id: str,
    decision_id: int | None,
    mode: str,
    d: Decision,
    book_side: str,
    yes_price: Decimal,
    order_id: str | None,
    status: str,
    filled: Decimal,
    already_existed: bool,
    total_count: Decimal | None = None,
) -> None:
    """The exchange's answer about an order. ``total_count``: the order's count as the exchange states it,
    when it differs from the decision's (an amended order counts its fills from before the amend)."""
    conn.execute(
        sa.text(
            "insert into trading_orders (run_id, decision_id, mode, client_order_id, order_id, event_ticker,"
            " ticker, direction, book_side, yes_price, count, filled_count, status, already_existed)"
            " values (:r, :d, :m, :coid, :oid, :e, :t, :dir, :bs, :yp, :c, :f, :s, :ae)"
            " on conflict (client_order_id) do update set order_id = excluded.order_id,"
            " filled_count = excluded.filled_count, status = excluded.status, count = excluded.count,"
            " already_existed = trading_orders.already_existed or excluded.already_existed,"
            " updated_at = now()"
        ),
        {
            "r": run_id,
            "d": decision_id,
            "m": mode,
            "coid": d.client_order_id,
            "oid": order_id,
            "e": d.event_ticker,
            "t": d.ticker,
            "dir": d.direction,
            "bs": book_side,
            "yp": yes_price,
            "c": d.count if total_count is None else total_count,
            "f": filled,
            "s": status,
            "ae": already_existed,
        },
    )


def record_intent(
    conn: sa.Connection,
    *,
    run_id: str,
    decision_id: int | None,
    mode: str,
    d: Decision,
    request: OrderRequest,
    amends: str | None = None,
) -> None:
    """The ledger's first word on an order, written before it is sent: ``pending``, no exchange id yet.

    ``amends``: the ``client_order_id`` of the resting order this one replaces by an amend.
    """
    conn.execute(
        sa.text(
            "insert into trading_orders (run_id, decision_id, mode, client_order_id, event_ticker, ticker,"
            " direction, book_side, yes_price, count, status, liquidity, expires_at, amends)"
            " values (:r, :d, :m, :coid, :e, :t, :dir, :bs, :yp, :c, 'pending', :liq,"
            " to_timestamp(:exp), :am)"
            " on conflict (client_order_id) do nothing"
        ),
        {
            "r": run_id,
            "d": decision_id,
            "m": mode,
            "coid": d.client_order_id,
            "e": d.event_ticker,
            "t": d.ticker,
            "dir": d.direction,
            "bs": request.book_side,
            "yp": request.price,
            "c": request.count,
            "liq": "maker" if request.post_only else "taker",
            "exp": request.expiration_time,
            "am": amends,
        },
    )


def adopt_order(conn: sa.Connection, *, run_id: str, mode: str, event_ticker: str, order: Order) -> None:
    """Record an order of ours found on the exchange: fill in a pending row, or add one under ``run_id``."""
    conn.execute(
        sa.text(
            "insert into trading_orders (run_id, mode, client_order_id, order_id, event_ticker, ticker,"
            " direction, book_side, yes_price, count, filled_count, status, already_existed, status_reason)"
            " values (:r, :m, :coid, :oid, :e, :t, :dir, :bs, :yp, :c, :f, :s, true,"
            " 'adopted: found on the exchange, missing from the warehouse')"
            " on conflict (client_order_id) do update set order_id = excluded.order_id,"
            " filled_count = excluded.filled_count, status = excluded.status, already_existed = true,"
            " updated_at = now()"
        ),
        {
            "r": run_id,
            "m": mode,
            "coid": order.client_order_id,
            "oid": order.order_id,
            "e": event_ticker,
            "t": order.ticker,
            "dir": Direction.NO if order.book_side == BookSide.ASK else Direction.YES,
            "bs": order.book_side or BookSide.BID,
            "yp": order.yes_price_dollars,
            "c": order.initial_count_fp,
            "f": order.fill_count_fp,
            "s": order.status,
        },
    )


def set_order_status(
    conn: sa.Connection,
    status: str,
    reason: str,
    *,
    client_order_id: str | None = None,
    order_id: str | None = None,
    only_from: str | None = None,
) -> None:
    """Move one order of the ledger to ``status`` and say why; the order is named by our
    ``client_order_id`` or by the exchange's ``order_id``, and with ``only_from`` moves only from that status.

    ``unsent``: a pending order that never reached the exchange (refused, or its run died before sending
    it). ``canceled``: a resting order we cancelled.
    """
    if (client_order_id is None) == (order_id is None):
        raise ValueError("name the order by exactly one of client_order_id and order_id")
    column, key = ("client_order_id", client_order_id) if order_id is None else ("order_id", order_id)
    only = " and status = :only" if only_from is not None else ""
    conn.execute(
        sa.text(
            "update trading_orders set status = :s, status_reason = :why, updated_at = now()"
            f" where {column} = :k{only}"
        ),
        {"s": status, "why": reason, "k": key, "only": only_from},
    )


def set_filled(conn: sa.Connection, client_order_id: str, filled: Decimal) -> None:
    conn.execute(
        sa.text(
            "update trading_orders set filled_count = :f,"
            " status = case when status = 'resting' and :f >= count then 'executed' else status end,"
            " updated_at = now() where client_order_id = :c"
        ),
        {"c": client_order_id, "f": filled},
    )


def resting_orders(
    conn: sa.Connection, mode: str, event_ticker: str | None = None
) -> list[Mapping[str, Any]]:
    """The ledger's resting orders in ``mode`` (in one event, or all): the paper book's resting orders."""
    rows = conn.execute(
        sa.text(
            "select * from trading_orders where mode = :m and status = 'resting'"
            " and (cast(:e as text) is null or event_ticker = :e) order by created_at, id"
        ),
        {"m": mode, "e": event_ticker},
    ).mappings()
    return [dict(r) for r in rows]


def our_orders(conn: sa.Connection, event_ticker: str, mode: str) -> dict[str, Mapping[str, Any]]:
    """Orders this bot placed in the event, by ``client_order_id``."""
    rows = conn.execute(
        sa.text("select * from trading_orders where event_ticker = :e and mode = :m"),
        {"e": event_ticker, "m": mode},
    ).mappings()
    return {r["client_order_id"]: dict(r) for r in rows}
