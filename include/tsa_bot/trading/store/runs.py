"""The run's own rows: ``trading_runs`` (status, steps, summary), its market snapshot and its quotes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.market import Level, OrderBook
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote


def json_text(value: Any) -> str:
    """A value as the text of a jsonb parameter (Decimals and datetimes as strings)."""
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
            "p": json_text(dict(params)),
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


def finish_run(conn: sa.Connection, run_id: str, summary: Mapping, *, skipped: str | None = None) -> None:
    """Close the run with its summary: ``finished``, or ``skipped`` with the reason it will not trade
    (exchange halted, no event, no snapshot for a backfill), which the later steps see. A skipped run stays
    skipped."""
    conn.execute(
        sa.text(
            "update trading_runs set finished_at = now(), summary = cast(:s as jsonb),"
            " status = case when cast(:why as text) is not null or status = 'skipped' then 'skipped'"
            " else 'finished' end, skip_reason = coalesce(cast(:why as text), skip_reason) where run_id = :r"
        ),
        {"r": run_id, "s": json_text(dict(summary)), "why": skipped},
    )


def record_step(conn: sa.Connection, run_id: str, step: str, result: Mapping) -> None:
    conn.execute(
        sa.text(
            "update trading_runs set steps = steps || jsonb_build_object(cast(:k as text), cast(:v as jsonb))"
            " where run_id = :r"
        ),
        {"r": run_id, "k": step, "v": json_text(dict(result))},
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
                "b": json_text(levels),
                "at": taken_at,
                "seq": seq,
            },
        )


def load_snapshot(conn: sa.Connection, run_id: str) -> MarketSnapshot | None:
    """The snapshot :func:`save_snapshot` saved for the run, rebuilt exactly; None if it saved none."""
    run = get_run(conn, run_id)
    return None if run is None else snapshot_of_run(conn, run)


def snapshot_of_run(conn: sa.Connection, run: Mapping[str, Any]) -> MarketSnapshot | None:
    """:func:`load_snapshot` for a run whose row was already read (``get_run``)."""
    if run["fee_type"] is None:
        return None
    rows = conn.execute(
        sa.text("select ticker, strike, book from trading_snapshots where run_id = :r order by seq, id"),
        {"r": run["run_id"]},
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
