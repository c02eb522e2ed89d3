"""Quote history in the warehouse (tables of migration 0009_quote_history.sql).

Every write is an upsert that changes a row only when a value differs, and reports whether it inserted
or changed one: so a second identical download or import adds nothing and says so. Functions take an open
connection; the caller chooses the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from tsa_bot.core.publication import NEW_YORK
from tsa_bot.kalshi.models import Candlestick, Event, Market
from tsa_bot.quotes.interchange import (
    QuoteFormatError,
    QuoteRow,
    event_date,
    format_count,
    format_price,
    format_time,
)

log = logging.getLogger(__name__)

SOURCES = ("kalshi", "import")


@dataclass(frozen=True)
class Written:
    """Rows a write inserted and rows it changed (the rest were already as given)."""

    new: int = 0
    changed: int = 0

    def __add__(self, other: Written) -> Written:
        return Written(self.new + other.new, self.changed + other.changed)


def _count(results: Iterable[sa.CursorResult]) -> Written:
    """``returning (xmax = 0)`` per row: true for an insert, false for an update; no row when unchanged."""
    flags = [row[0] for result in results for row in result]
    return Written(sum(flags), len(flags) - sum(flags))


# ---- events and markets --------------------------------------------------------------------------------

_EVENT = sa.text(
    """
    insert into quote_events (event_ticker, series_ticker, title, strike_date)
    values (:event_ticker, :series_ticker, :title, :strike_date)
    on conflict (event_ticker) do update set series_ticker = excluded.series_ticker,
        title = excluded.title, strike_date = excluded.strike_date, updated_at = now()
    where (quote_events.series_ticker, quote_events.title, quote_events.strike_date)
        is distinct from (excluded.series_ticker, excluded.title, excluded.strike_date)
    returning (xmax = 0)
    """
)


def upsert_events(conn: sa.Connection, events: Iterable[Event]) -> Written:
    return _count(
        conn.execute(
            _EVENT,
            {
                "event_ticker": e.event_ticker,
                "series_ticker": e.series_ticker or e.event_ticker.split("-")[0],
                "title": e.title,
                "strike_date": e.strike_date,
            },
        )
        for e in events
    )


_MARKET_COLUMNS = (
    "event_ticker, floor_strike, strike_type, status, result, expiration_value,"
    " open_time, close_time, archived"
)
_MARKET = sa.text(
    f"""
    insert into quote_markets (ticker, {_MARKET_COLUMNS}, source)
    values (:ticker, :event_ticker, :floor_strike, :strike_type, :status, :result, :expiration_value,
            :open_time, :close_time, :archived, 'kalshi')
    on conflict (ticker) do update set
        ({_MARKET_COLUMNS}, source, updated_at)
        = (excluded.event_ticker, excluded.floor_strike, excluded.strike_type, excluded.status,
           excluded.result, excluded.expiration_value, excluded.open_time, excluded.close_time,
           excluded.archived, 'kalshi', now())
    where (quote_markets.event_ticker, quote_markets.floor_strike, quote_markets.strike_type,
           quote_markets.status, quote_markets.result, quote_markets.expiration_value,
           quote_markets.open_time, quote_markets.close_time, quote_markets.archived, quote_markets.source)
        is distinct from
          (excluded.event_ticker, excluded.floor_strike, excluded.strike_type, excluded.status,
           excluded.result, excluded.expiration_value, excluded.open_time, excluded.close_time,
           excluded.archived, 'kalshi')
    returning (xmax = 0)
    """
)


def upsert_markets(conn: sa.Connection, markets: Iterable[Market], *, archived: bool) -> Written:
    """Kalshi's view of each market (status, result, expiration value) replaces the stored one."""
    return _count(
        conn.execute(
            _MARKET,
            {
                "ticker": m.ticker,
                "event_ticker": m.event_ticker,
                "floor_strike": m.floor_strike,
                "strike_type": m.strike_type,
                "status": m.status,
                "result": m.result,
                "expiration_value": m.expiration_value,
                "open_time": m.open_time,
                "close_time": m.close_time,
                "archived": archived,
            },
        )
        for m in markets
    )


# ---- candles -------------------------------------------------------------------------------------------

_OHLC = ("open", "high", "low", "close")
_CANDLE_VALUES = (
    [f"yes_bid_{k}" for k in _OHLC]
    + [f"yes_ask_{k}" for k in _OHLC]
    + [f"price_{k}" for k in _OHLC]
    + ["price_mean", "price_previous", "volume", "open_interest"]
)


_IMPORTED_VALUES = ["yes_bid_close", "yes_ask_close", "price_close", "volume", "open_interest"]
# The traded range is optional in the interchange format: a file without it (or a row with it empty) adds
# nothing and erases nothing that is stored.
_IMPORTED_RANGE = ["price_low", "price_high"]


def _candle_upsert(columns: Sequence[str], kept_when_empty: Sequence[str] = ()) -> sa.TextClause:
    """Upsert one market's candles in one statement (arrays, one element per candle): insert, or update
    ``columns`` (and ``source``) where one of them differs; a null in ``kept_when_empty`` keeps the stored
    value."""
    cols = ", ".join(columns)
    new = ", ".join(
        f"coalesce(excluded.{c}, quote_candles.{c})" if c in kept_when_empty else "excluded." + c
        for c in columns
    )
    arrays = ", ".join(f"cast(:{c} as numeric[])" for c in columns)
    return sa.text(
        f"insert into quote_candles (ticker, period_minutes, end_ts, {cols}, source)"
        f" select :ticker, :period, v.end_ts, {', '.join('v.' + c for c in columns)}, :source"
        f" from unnest(cast(:end_ts as timestamptz[]), {arrays}) as v(end_ts, {cols})"
        " on conflict (ticker, period_minutes, end_ts) do update"
        f" set ({cols}, source) = ({new}, excluded.source)"
        f" where ({', '.join('quote_candles.' + c for c in columns)}) is distinct from ({new})"
        " returning (xmax = 0)"
    )


_CANDLE = _candle_upsert(_CANDLE_VALUES)
# What the interchange format carries: an import leaves a downloaded candle's other fields alone, and a
# candle it does not change keeps its source.
_IMPORTED_CANDLE = _candle_upsert(_IMPORTED_VALUES + _IMPORTED_RANGE, _IMPORTED_RANGE)


def _upsert_candles(
    conn: sa.Connection,
    statement: sa.TextClause,
    ticker: str,
    period: int,
    source: str,
    by_end: dict[datetime, dict[str, Decimal | None]],
    columns: Sequence[str],
) -> Written:
    if not by_end:
        return Written()
    ends = sorted(by_end)
    arrays = {c: [by_end[end][c] for end in ends] for c in columns}
    params = {"ticker": ticker, "period": period, "source": source, "end_ts": ends, **arrays}
    return _count([conn.execute(statement, params)])


def save_candles(conn: sa.Connection, ticker: str, period: int, candles: Iterable[Candlestick]) -> Written:
    """Kalshi's candles of one market: new ones inserted, changed ones updated, the rest left alone."""

    def values(c: Candlestick) -> dict[str, Decimal | None]:
        row: dict[str, Decimal | None] = {}
        for name, ohlc in (("yes_bid", c.yes_bid), ("yes_ask", c.yes_ask), ("price", c.price)):
            row.update({f"{name}_{k}": getattr(ohlc, k) for k in _OHLC})
        row.update(
            price_mean=c.price_mean,
            price_previous=c.price_previous,
            volume=c.volume,
            open_interest=c.open_interest,
        )
        return row

    by_end = {c.end_period_ts: values(c) for c in candles}
    return _upsert_candles(conn, _CANDLE, ticker, period, "kalshi", by_end, _CANDLE_VALUES)


# ---- download progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    fetched_through: datetime | None
    complete: bool


def download_progress(conn: sa.Connection, period: int) -> dict[str, Progress]:
    rows = conn.execute(
        sa.text("select ticker, fetched_through, complete from quote_downloads where period_minutes = :p"),
        {"p": period},
    )
    return {r.ticker: Progress(r.fetched_through, r.complete) for r in rows}


def record_progress(
    conn: sa.Connection, ticker: str, period: int, fetched_through: datetime | None, complete: bool
) -> None:
    conn.execute(
        sa.text(
            "insert into quote_downloads (ticker, period_minutes, fetched_through, complete, requests)"
            " values (:t, :p, :f, :c, 1)"
            " on conflict (ticker, period_minutes) do update set"
            " fetched_through = greatest(quote_downloads.fetched_through, excluded.fetched_through),"
            " complete = quote_downloads.complete or excluded.complete,"
            " requests = quote_downloads.requests + 1, updated_at = now()"
        ),
        {"t": ticker, "p": period, "f": fetched_through, "c": complete},
    )


# ---- the interchange format ----------------------------------------------------------------------------


# Rows an import writes at a time: it streams the file, one transaction for the whole of it.
IMPORT_BATCH = 5000
_FILE_FIELDS = {  # the interchange's field for each candle column an import carries
    "yes_bid_close": "yes_bid",
    "yes_ask_close": "yes_ask",
    "price_close": "last_price",
    "volume": "volume",
    "open_interest": "open_interest",
    "price_low": "price_low",
    "price_high": "price_high",
}


@dataclass(frozen=True)
class Imported:
    """What an import read and wrote."""

    rows: int
    written: Written


def _candle_values(row: QuoteRow) -> dict[str, Decimal | None]:
    return {
        "yes_bid_close": row.yes_bid,
        "yes_ask_close": row.yes_ask,
        "price_close": row.last_price,
        "volume": row.volume,
        "open_interest": row.open_interest,
        "price_low": row.price_low,
        "price_high": row.price_high,
    }


def _check_market(conn: sa.Connection, line: int, row: QuoteRow, name: str) -> None:
    """A market the warehouse knows must agree on event and strike, and on the result where both have one;
    no other market of its event may hold its strike."""
    stored = conn.execute(
        sa.text("select event_ticker, floor_strike, result from quote_markets where ticker = :t"),
        {"t": row.ticker},
    ).first()
    if stored is not None:
        clashes = [
            ("event_ticker", row.event_ticker, stored.event_ticker, True),
            ("floor_strike", row.floor_strike, stored.floor_strike, row.floor_strike is not None),
            ("result", row.result, stored.result, bool(row.result and stored.result)),
        ]
        for field, mine, theirs, compare in clashes:
            if compare and mine != theirs:
                raise QuoteFormatError(
                    f"{name} line {line}, {field}: {row.ticker} has '{mine}' here but '{theirs}' in the "
                    "warehouse"
                )
    if row.floor_strike is None:
        return
    other = conn.execute(
        sa.text(
            "select ticker from quote_markets where event_ticker = :e and floor_strike = :k and ticker <> :t"
            " order by ticker limit 1"
        ),
        {"e": row.event_ticker, "k": row.floor_strike, "t": row.ticker},
    ).scalar_one_or_none()
    if other is not None:
        raise QuoteFormatError(
            f"{name} line {line}, floor_strike: {row.ticker} has strike {row.floor_strike}, as {other} has "
            "in the warehouse"
        )


def _register_market(conn: sa.Connection, row: QuoteRow) -> None:
    conn.execute(
        sa.text(
            "insert into quote_events (event_ticker, series_ticker) values (:e, :s)"
            " on conflict (event_ticker) do nothing"
        ),
        {"e": row.event_ticker, "s": row.event_ticker.split("-")[0]},
    )
    conn.execute(
        sa.text(
            "insert into quote_markets (ticker, event_ticker, floor_strike, result, source)"
            " values (:t, :e, :k, :r, 'import')"
            " on conflict (ticker) do update set"
            " floor_strike = coalesce(quote_markets.floor_strike, excluded.floor_strike),"
            " result = case when quote_markets.result = '' then excluded.result"
            " else quote_markets.result end, updated_at = now()"
            " where (quote_markets.floor_strike is null and excluded.floor_strike is not null)"
            " or (quote_markets.result = '' and excluded.result <> '')"
        ),
        {"t": row.ticker, "e": row.event_ticker, "k": row.floor_strike, "r": row.result},
    )


def _shown_value(value: Decimal | None, field: str) -> str:
    if value is None:
        return "no value"
    return format_count(value) if field in ("volume", "open_interest") else format_price(value)


def _check_downloaded(
    conn: sa.Connection, ticker: str, period: int, by_end: dict[datetime, tuple[int, QuoteRow]], name: str
) -> None:
    """An import never overwrites a candle downloaded from Kalshi: one it would change is refused, so the
    warehouse keeps Kalshi's values and the next download, which skips a complete market, is not blinded."""
    stored = conn.execute(
        sa.text(
            f"select end_ts, {', '.join(_IMPORTED_VALUES + _IMPORTED_RANGE)} from quote_candles"
            " where ticker = :t and period_minutes = :p and source = 'kalshi'"
            " and end_ts = any(cast(:ends as timestamptz[]))"
        ),
        {"t": ticker, "p": period, "ends": sorted(by_end)},
    ).mappings()
    clashes = []
    for candle in stored:
        line, row = by_end[candle["end_ts"]]
        mine = _candle_values(row)
        for column in _IMPORTED_VALUES + _IMPORTED_RANGE:
            if mine[column] != candle[column] and not (column in _IMPORTED_RANGE and mine[column] is None):
                clashes.append((line, _FILE_FIELDS[column], row, mine[column], candle[column]))
                break
    if clashes:
        line, field, row, mine, theirs = min(clashes, key=lambda c: c[0])
        raise QuoteFormatError(
            f"{name} line {line}, {field}: {row.ticker} at {format_time(row.end_ts)} has "
            f"{_shown_value(mine, field)} here but {_shown_value(theirs, field)} as downloaded from Kalshi; "
            "nothing imported (an import never overwrites a downloaded candle)"
        )


def _import_batch(
    conn: sa.Connection, batch: list[tuple[int, QuoteRow]], period: int, name: str, known: set[str]
) -> Written:
    for line, row in batch:
        if row.ticker not in known:  # checked against the warehouse before anything of it is written
            _check_market(conn, line, row, name)
            _register_market(conn, row)
            known.add(row.ticker)
    by_ticker: dict[str, dict[datetime, tuple[int, QuoteRow]]] = {}
    for line, row in batch:
        by_ticker.setdefault(row.ticker, {})[row.end_ts] = (line, row)
    written = Written()
    for ticker, by_end in by_ticker.items():
        _check_downloaded(conn, ticker, period, by_end, name)
        values = {end: _candle_values(row) for end, (_, row) in by_end.items()}
        written += _upsert_candles(
            conn, _IMPORTED_CANDLE, ticker, period, "import", values, _IMPORTED_VALUES + _IMPORTED_RANGE
        )
    return written


def import_quotes(
    conn: sa.Connection, rows: Iterable[tuple[int, QuoteRow]], period: int, name: str = "quotes"
) -> Imported:
    """Register the rows' events and markets and upsert their candles, as candles of ``period`` minutes.

    ``rows`` are ``(line, row)`` as :func:`~tsa_bot.quotes.interchange.iter_quotes` reads them, written
    :data:`IMPORT_BATCH` at a time as they come. A market the warehouse already knows must agree on event
    and strike, and on the result where both have one, no two markets of an event may share a strike, and a
    candle downloaded from Kalshi is never changed; otherwise ``QuoteFormatError`` names the line (and the
    caller's transaction rolls back, so a refused import changes nothing).
    """
    known: set[str] = set()
    count, written, batch = 0, Written(), []
    for numbered in rows:
        batch.append(numbered)
        if len(batch) == IMPORT_BATCH:
            written += _import_batch(conn, batch, period, name, known)
            count, batch = count + len(batch), []
    written += _import_batch(conn, batch, period, name, known)
    return Imported(count + len(batch), written)


def day_start(day: date) -> datetime:
    """Midnight in New York, where Kalshi's TSA weeks begin and end."""
    return datetime.combine(day, time(0), NEW_YORK)


def read_history(
    conn: sa.Connection,
    *,
    period: int,
    series: str | None = None,
    start: date | None = None,
    end: date | None = None,
    snapshots: bool = True,
) -> list[QuoteRow]:
    """The ``quote_history`` view's rows of candles of ``period`` (and snapshots), one per market and moment.

    ``start``/``end`` bound the rows' times by New York date, both inclusive. Where a snapshot falls on a
    candle's end exactly, the candle is kept.
    """
    query = sa.text(
        """
        select distinct on (ticker, end_ts) event_ticker, ticker, floor_strike, end_ts, yes_bid, yes_ask,
               last_price, volume, open_interest, result, price_low, price_high, close_time
        from quote_history
        where (period_minutes = :period or (:snapshots and period_minutes is null))
          and (cast(:series as text) is null or starts_with(event_ticker, cast(:series as text) || '-'))
          and (cast(:lo as timestamptz) is null or end_ts >= :lo)
          and (cast(:hi as timestamptz) is null or end_ts < :hi)
        order by ticker, end_ts, period_minutes nulls last
        """
    )
    params = {
        "period": period,
        "snapshots": snapshots,
        "series": series,
        "lo": day_start(start) if start else None,
        "hi": day_start(end + timedelta(days=1)) if end else None,
    }
    return sorted(
        (QuoteRow(**row) for row in conn.execute(query, params).mappings()),
        key=QuoteRow.sort_key,
    )


def settled_events(conn: sa.Connection, series: str) -> list[str]:
    """The series' events in the quote history with candles and a yes/no result on every market.

    An event whose ticker names no date (left by an import before they were refused) names no week: it is
    left out, with a warning.
    """
    events = conn.execute(
        sa.text(
            "select m.event_ticker from quote_markets m"
            " where starts_with(m.event_ticker, cast(:s as text) || '-') group by m.event_ticker"
            " having bool_and(m.result in ('yes', 'no'))"
            " and bool_or(exists (select from quote_candles c where c.ticker = m.ticker))"
        ),
        {"s": series},
    ).scalars()
    named = []
    for event in events:
        if event_date(event) is None:
            log.warning("quote history: event %r names no week (not SERIES-YYMMMDD): left out", event)
        else:
            named.append(event)
    return named
