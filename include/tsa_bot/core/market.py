"""The market's vocabulary, defined once: the series, its week, event and market tickers, the New York zone,
money constants, the words of an order (mode, direction, book side, action) and the order book.

Kalshi's weekly TSA contract (series ``KXTSAW``) has one event per Monday-Sunday week, named for the
Sunday (``KXTSAW-26FEB15``), and one market per strike (``KXTSAW-26FEB15-A2.30``: "weekly mean above
2.30 M"). Every order is expressed on the YES book: buying YES at p is a ``bid`` at p, buying NO at q an
``ask`` at 1 - q.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")  # TSA publishes, and Kalshi's week runs, on New York time
ZERO = Decimal(0)
ONE = Decimal(1)

SERIES = "KXTSAW"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NUMBERS = {m: i + 1 for i, m in enumerate(MONTHS)}


class TradingMode(StrEnum):
    """Where orders go: a local paper book, Kalshi's demo exchange, or production.

    Which exchange environments each mode may reach is ``kalshi.hosts.MODE_ENVIRONMENTS``.
    """

    PAPER = "paper"
    DEMO = "demo"
    LIVE = "live"


class Direction(StrEnum):
    """Which contract is bought: YES (the mean ends above the strike) or NO."""

    YES = "yes"
    NO = "no"


class BookSide(StrEnum):
    """The side of the YES book an order rests on."""

    BID = "bid"
    ASK = "ask"


class Action(StrEnum):
    """What a decision does in one market."""

    BUY_YES = "buy_yes"
    BUY_NO = "buy_no"
    NONE = "none"


def week_sunday(day: date) -> date:
    """The Sunday that ends the Monday-Sunday week containing ``day``."""
    return day + timedelta(days=6 - day.weekday())


def mondays_between(start: date, end: date) -> list[date]:
    """The Mondays in [start, end], in order: the weeks (and events) of a range; none if start > end."""
    first = start + timedelta(days=(7 - start.weekday()) % 7)
    return [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)] if first <= end else []


def event_ticker_for_week(day: date, series: str = SERIES) -> str:
    """``KXTSAW-26FEB15`` for any day of the week ending Sunday 2026-02-15."""
    sunday = week_sunday(day)
    return f"{series}-{sunday:%y}{MONTHS[sunday.month - 1]}{sunday.day:02d}"


def event_sunday(event_ticker: str) -> date:
    """The Sunday ``KXTSAW-26FEB15`` (or one of its market tickers) is named for: 2026-02-15.

    Raises ``KeyError`` or ``ValueError`` if the ticker names no date.
    """
    parts = event_ticker.split("-")
    if len(parts) < 2:
        raise ValueError(f"not an event ticker: {event_ticker!r}")
    code = parts[1]
    return date(2000 + int(code[:2]), _MONTH_NUMBERS[code[2:5]], int(code[5:]))


# The daily run's scheduled time, New York: each day's trading moment is the first quote at or after it.
RUN_TIME = time(9, 30)


def trading_day(moment: datetime) -> date:
    """The day whose daily run ``moment`` belongs to: the day of the last 09:30 New York at or before it.
    A run at 09:31 and an hourly candle ending at 10:00 belong to their day; a daily candle ending at
    midnight, after its day, to the day before. One key for a day's moment whatever its source."""
    at = moment.astimezone(NEW_YORK)
    return (at - timedelta(hours=RUN_TIME.hour, minutes=RUN_TIME.minute)).date()


# The series' rule where Kalshi's own close time is not at hand: trading ends Sunday 23:59 New York.
CLOSE_TIME = time(23, 59)


def event_close_time(event_ticker: str) -> datetime:
    """When an event's markets close by the series' rule: its Sunday, 23:59 New York (2026-03-23T03:59Z
    for ``KXTSAW-26MAR22``). Raises as :func:`event_sunday` does if the ticker names no date."""
    return datetime.combine(event_sunday(event_ticker), CLOSE_TIME, NEW_YORK)


def tradable_bid(yes_bid: Decimal | None) -> Decimal | None:
    """A reported YES bid as a price someone can sell at, or None: Kalshi reports an empty bid side as 0."""
    return yes_bid if yes_bid is not None and yes_bid > ZERO else None


def tradable_ask(yes_ask: Decimal | None) -> Decimal | None:
    """A reported YES ask as a price someone can buy at, or None: Kalshi reports an empty offer side as 1."""
    return yes_ask if yes_ask is not None and yes_ask < ONE else None


def series_of(event_ticker: str) -> str:
    """``KXTSAW`` for ``KXTSAW-26FEB15`` (or any of its market tickers)."""
    return event_ticker.split("-")[0]


def market_ticker(event_ticker: str, strike: int) -> str:
    """``KXTSAW-26FEB15-A2.30`` for the 2,300,000 strike of ``KXTSAW-26FEB15``."""
    return f"{event_ticker}-A{Decimal(strike) / 1_000_000:.2f}"


def in_event(ticker: str, event_ticker: str) -> bool:
    """Whether a market ticker belongs to the event."""
    return ticker.startswith(event_ticker + "-")


def yes_wins(mean: float | Decimal, strike: int) -> bool:
    """Whether a market settles YES: the week's mean strictly above its strike (on the strike is NO)."""
    return mean > strike


def market_result(mean: float | Decimal, strike: int) -> str:
    """``"yes"`` or ``"no"``, a market's result as Kalshi writes it, from the week's mean."""
    return Direction.YES.value if yes_wins(mean, strike) else Direction.NO.value


def on_yes_book(direction: Direction | str, price: Decimal) -> tuple[BookSide, Decimal]:
    """Buying ``direction`` at ``price`` as an order on the YES book: YES at p is a bid at p, NO at q an
    ask at 1 - q."""
    if direction == Direction.YES:
        return BookSide.BID, price
    return BookSide.ASK, ONE - price


@dataclass(frozen=True)
class Level:
    price: Decimal
    count: Decimal


def asks_from_opposite_bids(bids: tuple[Level, ...]) -> tuple[Level, ...]:
    """Kalshi books hold bids only: a bid at q on one side is an offer at 1 - q on the other.

    Best bids first in, so cheapest asks first out.
    """
    return tuple(Level(ONE - lv.price, lv.count) for lv in bids)


@dataclass(frozen=True, kw_only=True)
class OrderBook:
    """One market's resting bids on each side, best first; ``strike`` where the market has one."""

    ticker: str
    yes_bids: tuple[Level, ...]
    no_bids: tuple[Level, ...]
    strike: int | None = None

    @property
    def best_yes_bid(self) -> Level | None:
        return self.yes_bids[0] if self.yes_bids else None

    @property
    def best_no_bid(self) -> Level | None:
        return self.no_bids[0] if self.no_bids else None

    @property
    def yes_asks(self) -> tuple[Level, ...]:
        """Where YES can be bought, cheapest first."""
        return asks_from_opposite_bids(self.no_bids)

    @property
    def no_asks(self) -> tuple[Level, ...]:
        """Where NO can be bought, cheapest first."""
        return asks_from_opposite_bids(self.yes_bids)

    def asks(self, direction: Direction | str) -> tuple[Level, ...]:
        return self.yes_asks if direction == Direction.YES else self.no_asks
