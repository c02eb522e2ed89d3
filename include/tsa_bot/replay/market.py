"""The replay's view of quote history: the weeks, each day's trading moment, and the candle as a snapshot.

- A week is Monday–Sunday; its event is ``event_ticker_for_week(monday)``.
- A day's trading moment is the end of the first candle of the event ending at or after the day's
  scheduled run time (09:30 New York), and before the next day's; a day without such a candle is not
  traded. With daily candles that is the day's close.
- No trading at or after a market's close: a candle ending then is no moment, and a market closed by a
  moment is not in its snapshot. The close is Kalshi's (``close_time`` from the warehouse), else the
  series' rule (``core.market.event_close_time``: Sunday 23:59 New York). With daily candles the Sunday's
  candle ends at midnight, after the close: the Sunday is not traded.
- The snapshot at a moment holds that candle's quotes only: each market's tradable YES bid and ask
  (``QuoteRow.bid``/``ask``: a reported 0 bid or 1 ask is an empty side) as one level of :data:`DEPTH`
  contracts (the interchange format has no sizes). Filled at the ask (YES) or 1 − bid (NO). A one-sided
  book trades its quoted side only; an empty book is in the snapshot with no levels, and is not traded.
- Settlement: the market's ``result`` where the history has one, else the TSA weekly mean with Kalshi's
  strict ``>`` (all seven days in the data), else open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd

from tsa_bot.core.market import (
    NEW_YORK,
    ONE,
    RUN_TIME,
    Level,
    OrderBook,
    event_close_time,
    event_ticker_for_week,
    market_result,
)
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot
from tsa_bot.quotes.interchange import QuoteRow

DEPTH = Decimal(100)  # contracts assumed offered at each candle's bid and ask
FEES = FeeSchedule()  # KXTSAW: quadratic taker fee, multiplier 1


@dataclass(frozen=True)
class Moment:
    day: date  # the trading day (New York)
    at: datetime  # the end of the candle traded against


@dataclass(frozen=True)
class EventHistory:
    """One week's event: its candles by end time, and each market's result where known."""

    event_ticker: str
    monday: date
    candles: dict[datetime, tuple[QuoteRow, ...]]
    results: dict[str, str]  # ticker -> yes | no
    strikes: dict[str, int]  # ticker -> floor strike
    closes: dict[str, datetime]  # ticker -> when it closes (Kalshi's, else the series' rule)

    def closes_at(self, ticker: str) -> datetime:
        return self.closes.get(ticker) or event_close_time(self.event_ticker)

    def moments(self) -> list[Moment]:
        last_close = max(self.closes.values(), default=event_close_time(self.event_ticker))
        ends = sorted(e for e in self.candles if e < last_close)
        out = []
        for i in range(7):
            day = self.monday + timedelta(days=i)
            scheduled = datetime.combine(day, RUN_TIME, NEW_YORK)
            after = [e for e in ends if scheduled <= e < scheduled + timedelta(days=1)]
            if after:
                out.append(Moment(day, after[0]))
        return out

    def market_candles(self, ticker: str) -> list[QuoteRow]:
        """One market's candles, in time order."""
        return [row for end in sorted(self.candles) for row in self.candles[end] if row.ticker == ticker]

    def mid_after(self, ticker: str, at: datetime) -> Decimal | None:
        """The market's two-sided mid at the first moment after ``at``; None if there is none."""
        for moment in self.moments():
            if moment.at > at:
                row = next((r for r in self.candles[moment.at] if r.ticker == ticker), None)
                if row is None or row.bid is None or row.ask is None:
                    return None
                return (row.bid + row.ask) / 2
        return None

    def snapshot(self, moment: Moment) -> MarketSnapshot:
        books = []
        for row in self.candles[moment.at]:
            if row.floor_strike is None or self.closes_at(row.ticker) <= moment.at:
                continue
            bids = (Level(row.bid, DEPTH),) if row.bid is not None else ()
            offers = (Level(ONE - row.ask, DEPTH),) if row.ask is not None else ()
            books.append(OrderBook(ticker=row.ticker, yes_bids=bids, no_bids=offers, strike=row.floor_strike))
        return MarketSnapshot(self.event_ticker, FEES, tuple(books), moment.at)


def event_histories(rows: Iterable[QuoteRow], weeks: Sequence[date]) -> dict[date, EventHistory]:
    """The history of each week's event that has any quotes."""
    wanted = {event_ticker_for_week(w): w for w in weeks}
    grouped: dict[str, dict[datetime, list[QuoteRow]]] = {}
    results: dict[str, dict[str, str]] = {}
    strikes: dict[str, dict[str, int]] = {}
    closes: dict[str, dict[str, datetime]] = {}
    for row in rows:
        if row.event_ticker not in wanted:
            continue
        grouped.setdefault(row.event_ticker, {}).setdefault(row.end_ts, []).append(row)
        if row.result:
            results.setdefault(row.event_ticker, {})[row.ticker] = row.result
        if row.floor_strike is not None:
            strikes.setdefault(row.event_ticker, {})[row.ticker] = row.floor_strike
        close = row.close_time or event_close_time(row.event_ticker)
        closes.setdefault(row.event_ticker, {})[row.ticker] = close
    return {
        wanted[e]: EventHistory(
            e,
            wanted[e],
            {at: tuple(rs) for at, rs in candles.items()},
            results.get(e, {}),
            strikes.get(e, {}),
            closes.get(e, {}),
        )
        for e, candles in grouped.items()
    }


def weekly_mean(series: pd.Series, monday: date) -> float | None:
    """The Monday–Sunday mean in the TSA data, or None unless all seven days are there."""
    start = pd.Timestamp(monday)
    week = series[(series.index >= start) & (series.index < start + pd.Timedelta(days=7))]
    return float(week.mean()) if len(week) == 7 else None


def settle_result(history: EventHistory, ticker: str, mean: float | None) -> str:
    """``yes``/``no`` from the market's result, else from the TSA mean (strict ``>``); ``''`` if unknown."""
    if ticker in history.results:
        return history.results[ticker]
    strike = history.strikes.get(ticker)
    if mean is None or strike is None:
        return ""
    return market_result(mean, strike)
