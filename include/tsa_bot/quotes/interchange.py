"""The quote interchange format: one CSV row per market per candle, the same bytes out as in.

Header: ``event_ticker,ticker,floor_strike,end_ts,yes_bid,yes_ask,last_price,volume,open_interest,result``,
optionally followed by ``price_low,price_high`` (the candle's lowest and highest traded price). ``end_ts``
is the candle's end in ISO 8601 with a UTC offset; prices are dollars; a field is empty where Kalshi had
no value; ``result`` is ``yes``, ``no`` or empty.

Prices are as Kalshi reports them: ``yes_bid`` 0 means nobody bids and ``yes_ask`` 1 means nobody offers
(an empty side, not a price anyone can trade at). The file keeps what Kalshi reported; readers take the
tradable sides from :attr:`QuoteRow.bid` and :attr:`QuoteRow.ask`.

The canonical form, which ``write_quotes`` produces and which therefore round-trips byte for byte: all
twelve columns, rows in time order, ``\\n`` line ends, times in UTC (``+00:00``), prices with at least two
decimals and no trailing zeros beyond them (``0.47``, ``0.4725``), counts without trailing zeros (``12``,
``2.5``). A file with the ten columns only is written back with the two traded-price columns empty.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from tsa_bot.core.errors import TsaBotError
from tsa_bot.core.market import MONTHS, ONE, in_event, tradable_ask, tradable_bid

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
# Accepted after HEADER on import, always written on export: the candle's traded price range.
TRADED_RANGE = ("price_low", "price_high")
FULL_HEADER = HEADER + TRADED_RANGE
RESULTS = ("yes", "no", "")
# What the warehouse keeps (numeric(12, 6) prices, numeric(16, 2) counts): more would be rounded silently.
PRICE_PLACES, COUNT_PLACES = 6, 2
MAX_COUNT = Decimal(10) ** 14
# Kalshi's event tickers name their date in two-digit years: candle times outside those years are not quotes.
FIRST_YEAR, LAST_YEAR = 2000, 2099
# The largest quote file read: about three years of KXTSAW's hourly candles (a year is about 20 MiB). Rows
# are streamed, but the checks that span the file keep one small entry per row: an import of a file at the
# cap peaks at about 350 MB resident. A longer history is exported and imported by date (--start/--end).
MAX_FILE_BYTES = 64 * 1024 * 1024
# Tickers as Kalshi writes them (the client's own rule for identifiers): anything else, a newline, a NUL, a
# space or a comma, is a broken file, not a market.
TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# An event ticker names its date: KXTSAW-26FEB15 (series, then YYMMMDD).
EVENT_TICKER = re.compile(rf"[A-Z0-9]+-(\d\d)({'|'.join(MONTHS)})(\d\d)")


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
    price_low: Decimal | None = None  # the candle's lowest traded price; None when nothing traded
    price_high: Decimal | None = None
    # When the market closes (Kalshi's, from the warehouse); None where unknown: readers then use the
    # series' rule (``core.market.event_close_time``). Not a column of the file.
    close_time: datetime | None = None

    @property
    def bid(self) -> Decimal | None:
        """The YES bid someone can sell to, or None (no bid: empty, or reported as 0)."""
        return tradable_bid(self.yes_bid)

    @property
    def ask(self) -> Decimal | None:
        """The YES ask someone can buy at, or None (no offer: empty, or reported as 1)."""
        return tradable_ask(self.yes_ask)

    @property
    def two_sided(self) -> bool:
        """Whether both sides are quoted: only then is the mid a price the market stands behind."""
        return self.bid is not None and self.ask is not None

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
        format_price(row.price_low),
        format_price(row.price_high),
    ]


def write_quotes(rows: Iterable[QuoteRow], out: TextIO) -> int:
    """Write the header and ``rows`` in canonical order; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FULL_HEADER)
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


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a one-line message: control characters escaped (a NUL as ``\\x00``), cut short."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return repr(cut)


def _bare(text: str) -> str:
    """``text`` as :func:`shown` has it, without the quotes: for a value that parsed as a number."""
    return shown(text)[1:-1]


def _decimals(value: Decimal) -> int:
    """The number of decimals ``value`` needs, exactly (``normalize`` would round to 28 digits first)."""
    _, digits, exponent = value.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    return max(0, -(int(exponent) + len(digits) - len(significant))) if significant else 0


def _decimal(text: str, field: str, *, price: bool) -> Decimal | None:
    if text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _RowError(field, f"{shown(text)} is not a number") from None
    if not value.is_finite():
        raise _RowError(field, f"{shown(text)} is not a number")
    if price and not 0 <= value <= ONE:
        raise _RowError(field, f"{_bare(text)} is not a price in dollars between 0 and 1")
    if not price and value < 0:
        raise _RowError(field, f"{_bare(text)} is negative")
    if not price and value >= MAX_COUNT:
        raise _RowError(field, f"{_bare(text)} is too large")
    places = PRICE_PLACES if price else COUNT_PLACES
    if _decimals(value) > places:
        raise _RowError(field, f"{_bare(text)} has more than {places} decimals")
    return value


def _strike(text: str) -> int | None:
    if text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _RowError("floor_strike", f"{shown(text)} is not a number") from None
    if not value.is_finite() or value != value.to_integral_value() or not 0 < value < 2**63:
        raise _RowError("floor_strike", f"{shown(text)} is not a positive whole number of passengers")
    return int(value)


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError("end_ts", f"{shown(text)} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise _RowError("end_ts", f"{shown(text)} has no UTC offset (such as +00:00)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        utc = None
    if utc is None or not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise _RowError("end_ts", f"{shown(text)} is not between {FIRST_YEAR} and {LAST_YEAR}")
    return utc


def _ticker(text: str, field: str) -> str:
    if not text:
        raise _RowError(field, "is empty")
    if not TICKER.fullmatch(text):
        raise _RowError(field, f"{shown(text)} holds a character a Kalshi ticker cannot (or is too long)")
    return text


def event_date(event_ticker: str) -> date | None:
    """The date ``KXTSAW-26FEB15`` names (2026-02-15); None if it names none."""
    match = EVENT_TICKER.fullmatch(event_ticker)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return date(2000 + int(year), MONTHS.index(month) + 1, int(day))
    except ValueError:
        return None


def parse_row(fields: list[str], columns: int = len(HEADER)) -> QuoteRow:
    """One row of a file whose header has ``columns`` columns (:data:`HEADER`, or :data:`FULL_HEADER`)."""
    if len(fields) != columns:
        raise _RowError("", f"has {len(fields)} fields, expected {columns}")
    # Spaces around a field are forgiven; a newline or another control character is not.
    stripped = [f.strip(" \t") for f in fields] + [""] * (len(FULL_HEADER) - columns)
    event_ticker, ticker, strike, end_ts, bid, ask, last, volume, oi, result, low, high = stripped
    _ticker(event_ticker, "event_ticker")
    _ticker(ticker, "ticker")
    if event_date(event_ticker) is None:
        raise _RowError(
            "event_ticker", f"{shown(event_ticker)} names no date (SERIES-YYMMMDD, such as KXTSAW-26FEB15)"
        )
    if not in_event(ticker, event_ticker):
        raise _RowError("ticker", f"{shown(ticker)} is not a market of event {shown(event_ticker)}")
    if result not in RESULTS:
        raise _RowError("result", f"{shown(result)} is not yes, no or empty")
    row = QuoteRow(
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
        price_low=_decimal(low, "price_low", price=True),
        price_high=_decimal(high, "price_high", price=True),
    )
    # Crossed: a bid above the offer would have traded. An empty side (0 or 1) crosses nothing.
    if row.bid is not None and row.ask is not None and row.bid > row.ask:
        raise _RowError("yes_bid", f"{_bare(bid)} is above yes_ask {_bare(ask)} (a crossed book)")
    if row.price_low is not None and row.price_high is not None and row.price_low > row.price_high:
        raise _RowError("price_low", f"{_bare(low)} is above price_high {_bare(high)}")
    if (row.price_low is None) != (row.price_high is None):
        raise _RowError("price_low", "price_low and price_high are both empty (nothing traded) or both set")
    return row


class _Capped:
    """The lines of a text stream, refused once more than ``max_chars`` are read (a pipe has no size)."""

    def __init__(self, lines: Iterable[str], max_chars: int, name: str):
        self.lines = iter(lines)
        self.left = max_chars
        self.name = name

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.left -= len(line)
        if self.left < 0:
            raise QuoteFormatError(_too_large(self.name))
        return line


def _too_large(name: str) -> str:
    return (
        f"{name} is larger than the {MAX_FILE_BYTES // 2**20} MiB a quote file may be: split it by date "
        "(tsabot kalshi history --export --start/--end)"
    )


def iter_quotes(
    lines: Iterable[str], name: str = "quotes", *, max_chars: int = MAX_FILE_BYTES
) -> Iterator[tuple[int, QuoteRow]]:
    """Each row of a quote CSV with its line number, checked, as it is read (the file is never held whole);
    the first bad row raises ``QuoteFormatError`` naming it.

    Checked beyond each field: the header, no empty lines, one row per market per moment, the same event,
    strike and result for every row of one market, and one market per strike of an event.
    """
    reader = csv.reader(_Capped(lines, max_chars, name))
    header = next(reader, None)
    if header is None:
        raise QuoteFormatError(f"{name}: empty file, expected the header {','.join(HEADER)}")
    columns = tuple(h.strip() for h in header)
    if columns not in (HEADER, FULL_HEADER):
        raise QuoteFormatError(
            f"{name} line 1: the header must be exactly {','.join(HEADER)} (optionally followed by "
            f"{','.join(TRADED_RANGE)})"
        )
    seen: dict[tuple[str, datetime], int] = {}
    markets: dict[str, tuple[int, QuoteRow]] = {}
    strikes: dict[tuple[str, int], tuple[int, str]] = {}
    ended = reader.line_num  # a quoted field may hold line breaks: a row is named by its first line
    for fields in reader:
        line, ended = ended + 1, reader.line_num
        if not fields:
            raise QuoteFormatError(f"{name} line {line}: empty line")
        try:
            row = parse_row(fields, len(columns))
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
        if row.floor_strike is not None:
            other_line, other = strikes.setdefault((row.event_ticker, row.floor_strike), (line, row.ticker))
            if other != row.ticker:
                raise QuoteFormatError(
                    f"{name} line {line}, floor_strike: {row.ticker} has strike {row.floor_strike}, "
                    f"as {other} on line {other_line} has"
                )
        yield line, row


def read_quotes(lines: Iterable[str], name: str = "quotes") -> list[QuoteRow]:
    """Every row of a quote CSV, checked (:func:`iter_quotes`)."""
    return [row for _, row in iter_quotes(lines, name)]


@contextmanager
def open_quotes(path: Path) -> Iterator[Iterator[tuple[int, QuoteRow]]]:
    """The rows of a quote file as they are read (:func:`iter_quotes`), with every failure to read it as
    one ``QuoteFormatError``: missing, not text, not CSV, or larger than :data:`MAX_FILE_BYTES`."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            if path.stat().st_size > MAX_FILE_BYTES:  # a regular file says its size: refused unread
                raise QuoteFormatError(_too_large(path.name))
            yield iter_quotes(f, path.name)
    except OSError as exc:
        raise QuoteFormatError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise QuoteFormatError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise QuoteFormatError(f"{path.name}: not a CSV file ({_bare(str(exc))})") from None


def read_quotes_file(path: Path) -> list[QuoteRow]:
    """Every row of a quote file, checked (:func:`open_quotes`)."""
    with open_quotes(path) as rows:
        return [row for _, row in rows]
