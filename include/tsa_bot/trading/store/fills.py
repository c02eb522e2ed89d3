"""Fills, the positions recorded from them, and settlements with the P&L they realised."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class FillRecord:
    fill_id: str
    order_id: str
    client_order_id: str | None
    ticker: str
    book_side: str  # bid | ask
    count: Decimal
    yes_price: Decimal
    fee: Decimal
    is_taker: bool
    filled_at: datetime


def save_fills(conn: sa.Connection, mode: str, event_ticker: str, fills: Iterable[FillRecord]) -> int:
    added = 0
    for f in fills:
        added += conn.execute(
            sa.text(
                "insert into trading_fills (fill_id, mode, order_id, client_order_id, event_ticker, ticker,"
                " book_side, count, yes_price, fee, is_taker, filled_at)"
                " values (:id, :m, :o, :c, :e, :t, :bs, :n, :yp, :fee, :tk, :at)"
                " on conflict (fill_id) do nothing"
            ),
            {
                "id": f.fill_id,
                "m": mode,
                "o": f.order_id,
                "c": f.client_order_id,
                "e": event_ticker,
                "t": f.ticker,
                "bs": f.book_side,
                "n": f.count,
                "yp": f.yes_price,
                "fee": f.fee,
                "tk": f.is_taker,
                "at": f.filled_at,
            },
        ).rowcount
    return added


def fills_for_event(conn: sa.Connection, event_ticker: str, mode: str) -> list[Mapping[str, Any]]:
    rows = conn.execute(
        sa.text("select * from trading_fills where event_ticker = :e and mode = :m order by filled_at, id"),
        {"e": event_ticker, "m": mode},
    ).mappings()
    return [dict(r) for r in rows]


def fills_for_mode(conn: sa.Connection, mode: str) -> list[Mapping[str, Any]]:
    rows = conn.execute(
        sa.text("select * from trading_fills where mode = :m order by filled_at, id"), {"m": mode}
    ).mappings()
    return [dict(r) for r in rows]


def fills_for_run(conn: sa.Connection, run_id: str) -> list[Mapping[str, Any]]:
    rows = conn.execute(
        sa.text(
            "select f.* from trading_fills f join trading_orders o using (client_order_id)"
            " where o.run_id = :r order by f.filled_at, f.id"
        ),
        {"r": run_id},
    ).mappings()
    return [dict(r) for r in rows]


def save_positions(
    conn: sa.Connection, run_id: str, mode: str, event_ticker: str, positions: Iterable[Mapping[str, Any]]
) -> int:
    """Replace the run's recorded positions (``ticker, position, exposure, fees``)."""
    conn.execute(sa.text("delete from trading_positions where run_id = :r"), {"r": run_id})
    n = 0
    for p in positions:
        conn.execute(
            sa.text(
                "insert into trading_positions (run_id, mode, event_ticker, ticker, position, exposure, fees)"
                " values (:r, :m, :e, :t, :p, :x, :f)"
            ),
            {
                "r": run_id,
                "m": mode,
                "e": event_ticker,
                "t": p["ticker"],
                "p": p["position"],
                "x": p["exposure"],
                "f": p["fees"],
            },
        )
        n += 1
    return n


def settled_tickers(conn: sa.Connection, mode: str) -> set[str]:
    rows = conn.execute(sa.text("select ticker from trading_settlements where mode = :m"), {"m": mode})
    return {r[0] for r in rows}


def realised_pnl_on(conn: sa.Connection, mode: str, day: date) -> Decimal:
    value = conn.execute(
        sa.text(
            "select coalesce(sum(pnl), 0) from trading_settlements"
            " where mode = :m and (settled_at at time zone 'UTC')::date = :d"
        ),
        {"m": mode, "d": day},
    ).scalar_one()
    return Decimal(value)


def realised_pnl_total(conn: sa.Connection, mode: str) -> Decimal:
    value = conn.execute(
        sa.text("select coalesce(sum(pnl), 0) from trading_settlements where mode = :m"), {"m": mode}
    ).scalar_one()
    return Decimal(value)


def save_settlement(conn: sa.Connection, row: Mapping[str, Any]) -> bool:
    return bool(
        conn.execute(
            sa.text(
                "insert into trading_settlements (mode, event_ticker, ticker, result, expiration_value,"
                " net_position, gross_cost, fees, payout, pnl, exchange_revenue)"
                " values (:mode, :event_ticker, :ticker, :result, :expiration_value, :net_position,"
                " :gross_cost, :fees, :payout, :pnl, :exchange_revenue) on conflict (mode, ticker) do nothing"
            ),
            dict(row),
        ).rowcount
    )
