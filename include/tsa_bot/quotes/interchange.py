"""The quote interchange format: one CSV row per market per candle, the same bytes out as in.

Header, exactly: ``event_ticker,ticker,floor_strike,end_ts,yes_bid,yes_ask,last_price,volume,open_interest,
result``. ``end_ts`` is the candle's end in ISO 8601 with a UTC offset; prices are dollars; a field is empty
where Kalshi had no value; ``result`` is ``yes``, ``no`` or empty.

The canonical form, which ``write_quotes`` produces and which therefore round-trips byte for byte: rows in
time order, ``\\n`` line ends, times in UTC (``+00:00``), prices with at least two decimals and no trailing
zeros beyond them (``0.47``, ``0.4725``), counts without trailing zeros (``12``, ``2.5``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from tsa_bot.core.errors import TsaBotError
from tsa_bot.core.market import ONE, in_event

HEADER = (
    "event_ticker",
    "ticker",
    "floor_strike",
    "end_ts",
    "yes_bid",
    "yes_ask",
    "last_price",
    "volume",
    "open_interest",
    "result",
)
RESULTS = ("yes", "no", "")
# What the warehouse keeps (numeric(12, 6) prices, numeric(16, 2) counts): more would be rounded silently.
PRICE_PLACES, COUNT_PLACES = 6, 2
MAX_COUNT = Decimal(10) ** 14


class QuoteFormatError(TsaBotError):
    """A quote CSV that cannot be read, or that contradicts itself or the warehouse: nothing was imported."""


@dataclass(frozen=True)
class QuoteRow:
    """One market's quotes at the end of one candle (or one snapshot of the live runs)."""

    event_ticker: str
    ticker: str
    floor_strike: int | None
    end_ts: datetime
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last_price: Decimal | None
    volume: Decimal | None
    open_interest: Decimal | None
    result: str  # yes | no | ''

    def sort_key(self) -> tuple:
        """Time order; within one moment by event, strike and ticker (the order ``write_quotes`` uses)."""
        strike = self.floor_strike if self.floor_strike is not None else 1 << 62
        return (self.end_ts, self.event_ticker, strike, self.ticker)


# ---- formatting ---------------------------------------------------------------------------------------


def _plain(value: Decimal, min_places: int) -> str:
    """``value`` in fixed notation, without trailing zeros beyond ``min_places`` decimals."""
    text = format(value.normalize() if value else Decimal(0), "f")  # no "-0", no "0E-4"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min_places, "0")
    return f"{whole}.{frac}" if frac else whole


def format_price(value: Decimal | None) -> str:
    return "" if value is None else _plain(value, 2)


def format_count(value: Decimal | None) -> str:
    return "" if value is None else _plain(value, 0)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def format_row(row: QuoteRow) -> list[str]:
    return [
        row.event_ticker,
        row.ticker,
        "" if row.floor_strike is None else str(row.floor_strike),
        format_time(row.end_ts),
        format_price(row.yes_bid),
        format_price(row.yes_ask),
        format_price(row.last_price),
        format_count(row.volume),
        format_count(row.open_interest),
        row.result,
    ]


def write_quotes(rows: Iterable[QuoteRow], out: TextIO) -> int:
    """Write the header and ``rows`` in canonical order; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    ordered = sorted(rows, key=QuoteRow.sort_key)
    writer.writerows(format_row(r) for r in ordered)
    return len(ordered)


def write_quotes_file(rows: Iterable[QuoteRow], path: Path) -> int:
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            return write_quotes(rows, out)
    except OSError as exc:
        raise QuoteFormatError(f"cannot write {path}: {exc.strerror}") from None


# ---- parsing ------------------------------------------------------------------------------------------


class _RowError(Exception):
    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message


def _decimal(text: str, field: str, *, price: bool) -> Decimal | None:
    if text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _RowError(field, f"'{text}' is not a number") from None
    if not value.is_finite():
        raise _RowError(field, f"'{text}' is not a number")
    if price and not 0 <= value <= ONE:
        raise _RowError(field, f"{text} is not a price in dollars between 0 and 1")
    if not price and value < 0:
        raise _RowError(field, f"{text} is negative")
    if not price and value >= MAX_COUNT:
        raise _RowError(field, f"{text} is too large")
    places = PRICE_PLACES if price else COUNT_PLACES
    if -value.normalize().as_tuple().exponent > places:  # type: ignore[operator]
        raise _RowError(field, f"{text} has more than {places} decimals")
    return value


def _strike(text: str) -> int | None:
    if text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _RowError("floor_strike", f"'{text}' is not a number") from None
    if not value.is_finite() or value != value.to_integral_value() or not 0 < value < 2**63:
        raise _RowError("floor_strike", f"'{text}' is not a positive whole number of passengers")
    return int(value)


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError("end_ts", f"'{text}' is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise _RowError("end_ts", f"'{text}' has no UTC offset (such as +00:00)")
    return value.astimezone(UTC)


def parse_row(fields: list[str]) -> QuoteRow:
    if len(fields) != len(HEADER):
        raise _RowError("", f"has {len(fields)} fields, expected {len(HEADER)}")
    event_ticker, ticker, strike, end_ts, bid, ask, last, volume, oi, result = (f.strip() for f in fields)
    if not event_ticker:
        raise _RowError("event_ticker", "is empty")
    if not ticker:
        raise _RowError("ticker", "is empty")
    if not in_event(ticker, event_ticker):
        raise _RowError("ticker", f"'{ticker}' is not a market of event '{event_ticker}'")
    if result not in RESULTS:
        raise _RowError("result", f"'{result}' is not yes, no or empty")
    return QuoteRow(
        event_ticker=event_ticker,
        ticker=ticker,
        floor_strike=_strike(strike),
        end_ts=_time(end_ts),
        yes_bid=_decimal(bid, "yes_bid", price=True),
        yes_ask=_decimal(ask, "yes_ask", price=True),
        last_price=_decimal(last, "last_price", price=True),
        volume=_decimal(volume, "volume", price=False),
        open_interest=_decimal(oi, "open_interest", price=False),
        result=result,
    )


def read_quotes(lines: Iterable[str], name: str = "quotes") -> list[QuoteRow]:
    """Every row of a quote CSV, checked; the first bad row raises ``QuoteFormatError`` naming it.

    Checked beyond each field: the header, no empty lines, one row per market per moment, and the same
    event, strike and result for every row of one market.
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise QuoteFormatError(f"{name}: empty file, expected the header {','.join(HEADER)}")
    if tuple(h.strip() for h in header) != HEADER:
        raise QuoteFormatError(f"{name} line 1: the header must be exactly {','.join(HEADER)}")
    rows: list[QuoteRow] = []
    seen: dict[tuple[str, datetime], int] = {}
    markets: dict[str, tuple[int, QuoteRow]] = {}
    for fields in reader:
        line = reader.line_num
        if not fields:
            raise QuoteFormatError(f"{name} line {line}: empty line")
        try:
            row = parse_row(fields)
        except _RowError as err:
            where = f"{name} line {line}" + (f", {err.field}" if err.field else "")
            raise QuoteFormatError(f"{where}: {err.message}") from None
        first = seen.setdefault((row.ticker, row.end_ts), line)
        if first != line:
            raise QuoteFormatError(
                f"{name} line {line}: {row.ticker} at {format_time(row.end_ts)} is already on line {first}"
            )
        earlier_line, earlier = markets.setdefault(row.ticker, (line, row))
        for field in ("event_ticker", "floor_strike", "result"):
            if getattr(row, field) != getattr(earlier, field):
                raise QuoteFormatError(
                    f"{name} line {line}, {field}: {row.ticker} has '{getattr(row, field) or ''}' here "
                    f"but '{getattr(earlier, field) or ''}' on line {earlier_line}"
                )
        rows.append(row)
    return rows


def read_quotes_file(path: Path) -> list[QuoteRow]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return read_quotes(f, path.name)
    except OSError as exc:
        raise QuoteFormatError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise QuoteFormatError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise QuoteFormatError(f"{path.name}: not a CSV file ({exc})") from None


def iter_markets(rows: Iterable[QuoteRow]) -> Iterator[QuoteRow]:
    """The first row of each market, in order: what the import needs to register events and markets."""
    seen: set[str] = set()
    for row in rows:
        if row.ticker not in seen:
            seen.add(row.ticker)
            yield row
