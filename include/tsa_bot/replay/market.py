"""The replay's view of quote history: the weeks, each day's trading moment, and the candle as a snapshot.

- A week is Monday–Sunday; its event is ``event_ticker_for_week(monday)``.
- A day's trading moment is the end of the first candle of the event ending at or after the day's
  scheduled run time (09:30 New York), and before the next day's; a day without such a candle is not
  traded. With daily candles that is the day's close.
- The snapshot at a moment holds that candle's quotes only: each market's YES bid and ask as one level of
  :data:`DEPTH` contracts (the interchange format has no sizes). Filled at the ask (YES) or 1 − bid (NO).
- Settlement: the market's ``result`` where the history has one, else the TSA weekly mean with Kalshi's
  strict ``>`` (all seven days in the data), else open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd

from tsa_bot.core.market import NEW_YORK, ONE, Level, OrderBook, event_ticker_for_week, market_result
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot
from tsa_bot.quotes.interchange import QuoteRow

RUN_TIME = time(9, 30)  # the DAG's scheduled run, America/New_York
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

    def moments(self) -> list[Moment]:
        ends = sorted(self.candles)
        out = []
        for i in range(7):
            day = self.monday + timedelta(days=i)
            scheduled = datetime.combine(day, RUN_TIME, NEW_YORK)
            after = [e for e in ends if scheduled <= e < scheduled + timedelta(days=1)]
            if after:
                out.append(Moment(day, after[0]))
        return out

    def snapshot(self, moment: Moment) -> MarketSnapshot:
        books = []
        for row in self.candles[moment.at]:
            if row.floor_strike is None:
                continue
            bids = (Level(row.yes_bid, DEPTH),) if row.yes_bid is not None else ()
            offers = (Level(ONE - row.yes_ask, DEPTH),) if row.yes_ask is not None else ()
            books.append(OrderBook(ticker=row.ticker, yes_bids=bids, no_bids=offers, strike=row.floor_strike))
        return MarketSnapshot(self.event_ticker, FEES, tuple(books), moment.at)


def event_histories(rows: Iterable[QuoteRow], weeks: Sequence[date]) -> dict[date, EventHistory]:
    """The history of each week's event that has any quotes."""
    wanted = {event_ticker_for_week(w): w for w in weeks}
    grouped: dict[str, dict[datetime, list[QuoteRow]]] = {}
    results: dict[str, dict[str, str]] = {}
    strikes: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.event_ticker not in wanted:
            continue
        grouped.setdefault(row.event_ticker, {}).setdefault(row.end_ts, []).append(row)
        if row.result:
            results.setdefault(row.event_ticker, {})[row.ticker] = row.result
        if row.floor_strike is not None:
            strikes.setdefault(row.event_ticker, {})[row.ticker] = row.floor_strike
    return {
        wanted[e]: EventHistory(
            e,
            wanted[e],
            {at: tuple(rs) for at, rs in candles.items()},
            results.get(e, {}),
            strikes.get(e, {}),
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
