"""Candlesticks from a market's tape, in the two JSON shapes of Kalshi's spec (live and historical).

A candle ending at ``T`` covers ``(T - period, T]``; ``T`` is a multiple of the period in Unix time. Its
bid and ask open at the quote in force when the period starts and close at the quote in force at ``T``;
its trade prices are those of the trades inside it (null without any), ``previous`` the last trade
before it. Only candles that have ended by ``now`` exist: nothing is shown before it happened.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from tsa_bot.kalshi.models import count_str, price_str
from tsa_bot.kalshi_sim.crowd import MarketTape

PERIODS = {1: 60, 60: 3600, 1440: 86400}  # period_interval (minutes) -> seconds
MAX_CANDLES = 5000


def candle_ends(start_ts: int, end_ts: int, period_s: int, open_ts: float, close_ts: float, now: float):
    """The candle ends in ``[start_ts, end_ts]`` that overlap trading and have ended by ``now``."""
    first = max(start_ts, int(open_ts) + 1)
    first = -(-first // period_s) * period_s
    last = min(end_ts, int(now), -(-int(close_ts) // period_s) * period_s)
    return range(first, last + 1, period_s) if last >= first else range(0)


def _cents(value: int) -> str:
    return price_str(Decimal(int(value)) / 100)


def candles(
    tape: MarketTape, hours: np.ndarray, ends: range, period_s: int, *, historical: bool
) -> list[dict[str, Any]]:
    """The candlesticks ending at ``ends``, as ``GET .../candlesticks`` lists them."""
    out = []
    for end in ends:
        start = end - period_s
        i0 = max(int(np.searchsorted(hours, start, side="right")) - 1, 0)
        i1 = max(int(np.searchsorted(hours, end, side="right")) - 1, 0)
        a = int(np.searchsorted(tape.trade_ts, start, side="right"))
        b = int(np.searchsorted(tape.trade_ts, end, side="right"))
        prices, sizes = tape.trade_price[a:b], tape.trade_size[a:b]
        quotes = {}
        for name, series in (("yes_bid", tape.bid), ("yes_ask", tape.ask)):
            window = series[i0 : i1 + 1]
            quotes[name] = (series[i0], int(window.min()), int(window.max()), series[i1])
        if len(prices):
            mean = Decimal(int((prices * sizes).sum())) / Decimal(int(sizes.sum())) / 100
            trade = [_cents(prices[0]), _cents(prices.min()), _cents(prices.max()), _cents(prices[-1])]
            trade.append(price_str(mean))
        else:
            trade = [None] * 5
        trade.append(_cents(tape.trade_price[a - 1]) if a > 0 else None)
        volume = count_str(Decimal(int(sizes.sum())))
        interest = count_str(Decimal(int(tape.open_interest[b - 1]) if b > 0 else 0))
        out.append(
            _historical(end, quotes, trade, volume, interest)
            if historical
            else _live(end, quotes, trade, volume, interest)
        )
    return out


def _live(end: int, quotes: dict, trade: list, volume: str, interest: str) -> dict[str, Any]:
    ohlc = ("open_dollars", "low_dollars", "high_dollars", "close_dollars")
    return {
        "end_period_ts": end,
        **{name: dict(zip(ohlc, map(_cents, q), strict=True)) for name, q in quotes.items()},
        "price": dict(zip((*ohlc, "mean_dollars", "previous_dollars"), trade, strict=True)),
        "volume_fp": volume,
        "open_interest_fp": interest,
    }


def _historical(end: int, quotes: dict, trade: list, volume: str, interest: str) -> dict[str, Any]:
    ohlc = ("open", "low", "high", "close")
    return {
        "end_period_ts": end,
        **{name: dict(zip(ohlc, map(_cents, q), strict=True)) for name, q in quotes.items()},
        "price": dict(zip((*ohlc, "mean", "previous"), trade, strict=True)),
        "volume": volume,
        "open_interest": interest,
    }
