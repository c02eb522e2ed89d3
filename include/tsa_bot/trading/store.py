"""Warehouse persistence for trading (tables from migration 0003_trading.sql). Postgres only.

Each function takes an open connection, so that callers choose the transaction
(``with engine.begin() as conn:``). Writes are idempotent: a retried run updates, never duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.market import Action, BookSide, Direction, Level, OrderBook
from tsa_bot.kalshi.models import Order, OrderRequest
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote
from tsa_bot.trading.decide import Decision


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


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def start_run(
    conn: sa.Connection,
    run_id: str,
    mode: str,
    event_ticker: str,
    host: str,
    params: Mapping,
    *,
    backfill: bool = False,
    as_of: datetime | None = None,
) -> None:
    conn.execute(
        sa.text(
            "insert into trading_runs (run_id, mode, event_ticker, api_host, params, backfill, as_of)"
            " values (:r, :m, :e, :h, cast(:p as jsonb), :b, :a) on conflict (run_id) do nothing"
        ),
        {
            "r": run_id,
            "m": mode,
            "e": event_ticker,
            "h": host,
            "p": _json(dict(params)),
            "b": backfill,
            "a": as_of,
        },
    )


def get_run(conn: sa.Connection, run_id: str) -> dict[str, Any] | None:
    row = (
        conn.execute(sa.text("select * from trading_runs where run_id = :r"), {"r": run_id})
        .mappings()
        .first()
    )
    return dict(row) if row else None


def finish_run(conn: sa.Connection, run_id: str, summary: Mapping) -> None:
    conn.execute(
        sa.text(
            "update trading_runs set finished_at = now(), summary = cast(:s as jsonb),"
            " status = case when status = 'skipped' then status else 'finished' end where run_id = :r"
        ),
        {"r": run_id, "s": _json(dict(summary))},
    )


def skip_run(conn: sa.Connection, run_id: str, reason: str, summary: Mapping) -> None:
    """The run will not trade (exchange halted, no event, no snapshot for a backfill): later steps see it."""
    conn.execute(
        sa.text(
            "update trading_runs set status = 'skipped', skip_reason = :why, finished_at = now(),"
            " summary = cast(:s as jsonb) where run_id = :r"
        ),
        {"r": run_id, "why": reason, "s": _json(dict(summary))},
    )


def record_step(conn: sa.Connection, run_id: str, step: str, result: Mapping) -> None:
    conn.execute(
        sa.text(
            "update trading_runs set steps = steps || jsonb_build_object(cast(:k as text), cast(:v as jsonb))"
            " where run_id = :r"
        ),
        {"r": run_id, "k": step, "v": _json(dict(result))},
    )


def save_snapshot(
    conn: sa.Connection, run_id: str, snapshot: MarketSnapshot, *, source_run: str | None = None
) -> None:
    """The snapshot's books (one row per market, in the exchange's order) and its fees and time."""
    taken_at = snapshot.taken_at or datetime.now(UTC)
    conn.execute(
        sa.text(
            "update trading_runs set snapshot_taken_at = :at, fee_type = :ft, fee_multiplier = :fm,"
            " snapshot_source_run = :src where run_id = :r"
        ),
        {
            "r": run_id,
            "at": taken_at,
            "ft": snapshot.fees.fee_type,
            "fm": snapshot.fees.fee_multiplier,
            "src": source_run,
        },
    )
    for seq, b in enumerate(snapshot.books):
        levels = {
            "yes": [[str(lv.price), str(lv.count)] for lv in b.yes_bids],
            "no": [[str(lv.price), str(lv.count)] for lv in b.no_bids],
        }
        conn.execute(
            sa.text(
                "insert into trading_snapshots"
                " (run_id, ticker, strike, yes_bid, yes_ask, no_bid, no_ask, book, taken_at, seq)"
                " values (:r, :t, :k, :yb, :ya, :nb, :na, cast(:b as jsonb), :at, :seq)"
                " on conflict (run_id, ticker) do update set yes_bid = excluded.yes_bid,"
                " yes_ask = excluded.yes_ask, no_bid = excluded.no_bid, no_ask = excluded.no_ask,"
                " book = excluded.book, taken_at = excluded.taken_at, seq = excluded.seq"
            ),
            {
                "r": run_id,
                "t": b.ticker,
                "k": b.strike,
                "yb": b.yes_bids[0].price if b.yes_bids else None,
                "ya": 1 - b.no_bids[0].price if b.no_bids else None,
                "nb": b.no_bids[0].price if b.no_bids else None,
                "na": 1 - b.yes_bids[0].price if b.yes_bids else None,
                "b": _json(levels),
                "at": taken_at,
                "seq": seq,
            },
        )


def load_snapshot(conn: sa.Connection, run_id: str) -> MarketSnapshot | None:
    """The snapshot :func:`save_snapshot` saved for the run, rebuilt exactly; None if it saved none."""
    run = get_run(conn, run_id)
    if run is None or run["fee_type"] is None:
        return None
    rows = conn.execute(
        sa.text("select ticker, strike, book from trading_snapshots where run_id = :r order by seq, id"),
        {"r": run_id},
    ).mappings()

    def levels(pairs: list[list[str]]) -> tuple[Level, ...]:
        return tuple(Level(Decimal(p), Decimal(c)) for p, c in pairs)

    books = tuple(
        OrderBook(
            ticker=r["ticker"],
            strike=r["strike"],
            yes_bids=levels(r["book"]["yes"]),
            no_bids=levels(r["book"]["no"]),
        )
        for r in rows
    )
    fees = FeeSchedule(run["fee_type"], Decimal(str(run["fee_multiplier"])))
    return MarketSnapshot(run["event_ticker"], fees, books, run["snapshot_taken_at"])


def latest_snapshot_run(conn: sa.Connection, event_ticker: str, as_of: datetime) -> str | None:
    """The run whose snapshot of the event is the latest taken at or before ``as_of``."""
    return conn.execute(
        sa.text(
            "select run_id from trading_runs where event_ticker = :e and fee_type is not null"
            " and snapshot_taken_at <= :a and snapshot_source_run is null"
            " order by snapshot_taken_at desc, run_id limit 1"
        ),
        {"e": event_ticker, "a": as_of},
    ).scalar_one_or_none()


def save_quotes(conn: sa.Connection, run_id: str, event_ticker: str, quotes: Iterable[StrikeQuote]) -> int:
    n = 0
    for q in quotes:
        conn.execute(
            sa.text(
                "insert into trading_quotes (run_id, event_ticker, ticker, strike, fair_yes, raw_fair_yes,"
                " yes_bid, yes_ask, no_bid, no_ask, yes_ask_size, no_ask_size, fee_yes, fee_no, ev_yes,"
                " ev_no, crossed, note) values (:r, :e, :t, :k, :f, :rf, :yb, :ya, :nb, :na, :yas, :nas,"
                " :fy, :fn, :evy, :evn, :x, :note)"
                " on conflict (run_id, ticker) do update set strike = excluded.strike,"
                " fair_yes = excluded.fair_yes, raw_fair_yes = excluded.raw_fair_yes,"
                " yes_bid = excluded.yes_bid, yes_ask = excluded.yes_ask, no_bid = excluded.no_bid,"
                " no_ask = excluded.no_ask, yes_ask_size = excluded.yes_ask_size,"
                " no_ask_size = excluded.no_ask_size, fee_yes = excluded.fee_yes, fee_no = excluded.fee_no,"
                " ev_yes = excluded.ev_yes, ev_no = excluded.ev_no, crossed = excluded.crossed,"
                " note = excluded.note, created_at = now()"
            ),
            {
                "r": run_id,
                "e": event_ticker,
                "t": q.ticker,
                "k": q.strike,
                "f": q.fair_yes,
                "rf": q.raw_fair_yes,
                "yb": q.yes_bid,
                "ya": q.yes_ask,
                "nb": q.no_bid,
                "na": q.no_ask,
                "yas": q.yes_ask_size,
                "nas": q.no_ask_size,
                "fy": q.fee_yes,
                "fn": q.fee_no,
                "evy": q.ev_yes,
                "evn": q.ev_no,
                "x": q.crossed,
                "note": q.note,
            },
        )
        n += 1
    return n


def load_quotes(conn: sa.Connection, run_id: str) -> list[StrikeQuote]:
    rows = conn.execute(
        sa.text("select * from trading_quotes where run_id = :r order by strike, ticker"), {"r": run_id}
    ).mappings()
    return [
        StrikeQuote(
            ticker=r["ticker"],
            strike=r["strike"],
            fair_yes=r["fair_yes"],
            raw_fair_yes=r["raw_fair_yes"],
            yes_bid=r["yes_bid"],
            yes_ask=r["yes_ask"],
            no_bid=r["no_bid"],
            no_ask=r["no_ask"],
            yes_ask_size=r["yes_ask_size"],
            no_ask_size=r["no_ask_size"],
            fee_yes=r["fee_yes"],
            fee_no=r["fee_no"],
            ev_yes=r["ev_yes"],
            ev_no=r["ev_no"],
            crossed=r["crossed"],
            note=r["note"],
        )
        for r in rows
    ]


def save_decision(conn: sa.Connection, run_id: str, d: Decision) -> int:
    """Insert or (on a retried run) update the run's decision for this market; returns its id."""
    new_id = conn.execute(
        sa.text(
            "insert into trading_decisions (run_id, event_ticker, ticker, strike, fair_yes, raw_fair_yes,"
            " action, count, limit_price, fee_per_contract, ev_per_contract, kelly_contracts,"
            " client_order_id, reason)"
            " values (:r, :e, :t, :k, :f, :rf, :a, :c, :lp, :fee, :ev, :kc, :coid, :why)"
            " on conflict (run_id, ticker) do update set fair_yes = excluded.fair_yes,"
            " raw_fair_yes = excluded.raw_fair_yes, action = excluded.action, count = excluded.count,"
            " limit_price = excluded.limit_price, fee_per_contract = excluded.fee_per_contract,"
            " ev_per_contract = excluded.ev_per_contract, kelly_contracts = excluded.kelly_contracts,"
            " client_order_id = excluded.client_order_id, reason = excluded.reason, created_at = now()"
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
            "n": _json(numbers),
        },
    )


def order_by_client_id(conn: sa.Connection, client_order_id: str) -> Mapping[str, Any] | None:
    row = (
        conn.execute(
            sa.text("select * from trading_orders where client_order_id = :c"), {"c": client_order_id}
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


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
) -> None:
    conn.execute(
        sa.text(
            "insert into trading_orders (run_id, decision_id, mode, client_order_id, order_id, event_ticker,"
            " ticker, direction, book_side, yes_price, count, filled_count, status, already_existed)"
            " values (:r, :d, :m, :coid, :oid, :e, :t, :dir, :bs, :yp, :c, :f, :s, :ae)"
            " on conflict (client_order_id) do update set order_id = excluded.order_id,"
            " filled_count = excluded.filled_count, status = excluded.status,"
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
            "c": d.count,
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
) -> None:
    """The ledger's first word on an order, written before it is sent: ``pending``, no exchange id yet."""
    conn.execute(
        sa.text(
            "insert into trading_orders (run_id, decision_id, mode, client_order_id, event_ticker, ticker,"
            " direction, book_side, yes_price, count, status)"
            " values (:r, :d, :m, :coid, :e, :t, :dir, :bs, :yp, :c, 'pending')"
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


def mark_unsent(conn: sa.Connection, client_order_id: str, reason: str) -> None:
    """A pending order that never reached the exchange (refused, or its run died before sending it)."""
    conn.execute(
        sa.text(
            "update trading_orders set status = 'unsent', status_reason = :why, updated_at = now()"
            " where client_order_id = :c and status = 'pending'"
        ),
        {"c": client_order_id, "why": reason},
    )


def mark_canceled(conn: sa.Connection, order_id: str, reason: str) -> None:
    conn.execute(
        sa.text(
            "update trading_orders set status = 'canceled', status_reason = :why, updated_at = now()"
            " where order_id = :o"
        ),
        {"o": order_id, "why": reason},
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


def our_orders(conn: sa.Connection, event_ticker: str, mode: str) -> dict[str, Mapping[str, Any]]:
    """Orders this bot placed in the event, by ``client_order_id``."""
    rows = conn.execute(
        sa.text("select * from trading_orders where event_ticker = :e and mode = :m"),
        {"e": event_ticker, "m": mode},
    ).mappings()
    return {r["client_order_id"]: dict(r) for r in rows}


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


def fills_for_run(conn: sa.Connection, run_id: str) -> list[Mapping[str, Any]]:
    rows = conn.execute(
        sa.text(
            "select f.* from trading_fills f join trading_orders o using (client_order_id)"
            " where o.run_id = :r order by f.filled_at, f.id"
        ),
        {"r": run_id},
    ).mappings()
    return [dict(r) for r in rows]


def quotes_of_first_daily_runs(conn: sa.Connection, before: datetime) -> list[Mapping[str, Any]]:
    """The quotes (model and market, per strike) of the first priced run of each event on each UTC day,
    for runs acting strictly before ``before`` (a run's moment is its ``as_of``, else its start).

    One run a day: repeated runs of a day see nearly the same model and market and would weigh that day
    many times over; a backfill run that reuses an earlier snapshot counts once with it.
    """
    rows = conn.execute(
        sa.text(
            "with priced as ("
            " select distinct on (r.event_ticker, (coalesce(r.as_of, r.started_at) at time zone 'UTC')::date)"
            "  r.run_id, r.event_ticker, coalesce(r.as_of, r.started_at) as moment"
            " from trading_runs r"
            " where (r.steps -> 'price') is not null and coalesce(r.as_of, r.started_at) < :before"
            " order by r.event_ticker, (coalesce(r.as_of, r.started_at) at time zone 'UTC')::date,"
            "  coalesce(r.as_of, r.started_at), r.run_id)"
            " select p.run_id, p.event_ticker, p.moment, q.strike, q.fair_yes, q.yes_bid, q.yes_ask"
            " from priced p join trading_quotes q on q.run_id = p.run_id"
            " order by p.moment, p.run_id, q.strike"
        ),
        {"before": before},
    )
    return [dict(r) for r in rows.mappings()]
