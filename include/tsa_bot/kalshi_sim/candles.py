"""Candlesticks from a market's tape, in the two JSON shapes of Kalshi's spec (live and historical).

A candle ending at ``T`` covers ``(T - period, T]``; ``T`` is a multiple of the period in Unix time. Its
bid and ask open at the quote in force when the period starts and close at the quote in force at ``T``;
its trade prices are those of the trades inside it (null without any), ``previous`` the last trade
before it. Only candles that have ended by ``now`` exist: nothing is shown before it happened.

An empty side is reported as Kalshi reports it: a YES bid of 0 (no bid), a YES ask of 1 (no offer). From
the market's close nothing rests, so a candle ending at or after it closes at 0/1 (and its bid's low and
ask's high say so).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from tsa_bot.kalshi.models import price_str
from tsa_bot.kalshi_sim.crowd import NO_ASK, NO_BID, MarketTape

PERIODS = {1: 60, 60: 3600, 1440: 86400}  # period_interval (minutes) -> seconds
MAX_CANDLES = 5000


def candle_ends(start_ts: int, end_ts: int, period_s: int, open_ts: float, close_ts: float, now: float):
    """The candle ends in ``[start_ts, end_ts]`` that overlap trading and have ended by ``now``."""
    first = max(start_ts, int(open_ts) + 1)
    first = -(-first // period_s) * period_s
    last = min(end_ts, int(now), -(-int(close_ts) // period_s) * period_s)
    return range(first, last + 1, period_s) if last >= first else range(0)


_CENTS = [price_str(Decimal(c) / 100) for c in range(101)]


def candles(
    tape: MarketTape,
    hours: np.ndarray,
    ends: range,
    period_s: int,
    *,
    historical: bool,
    close_ts: float = float("inf"),
) -> list[dict[str, Any]]:
    """The candlesticks ending at ``ends``, as ``GET .../candlesticks`` lists them; the book is empty from
    ``close_ts`` on."""
    if not len(ends):
        return []
    end = np.asarray(ends, dtype=np.int64)
    i0 = np.maximum(np.searchsorted(hours, end - period_s, side="right") - 1, 0)
    i1 = np.maximum(np.searchsorted(hours, end, side="right") - 1, 0)
    a = np.searchsorted(tape.trade_ts, end - period_s, side="right")
    b = np.searchsorted(tape.trade_ts, end, side="right")
    volume = np.concatenate(([0], np.cumsum(tape.trade_size))).tolist()
    value = np.concatenate(([0], np.cumsum(tape.trade_size * tape.trade_price))).tolist()
    # Plain lists from here: per-candle numpy calls on tiny slices cost more than the work.
    sides = (("yes_bid", tape.bid.tolist(), NO_BID), ("yes_ask", tape.ask.tolist(), NO_ASK))
    price, interest = tape.trade_price.tolist(), tape.open_interest.tolist()
    shape = _historical if historical else _live
    out = []
    for e, q0, q1, first, last in zip(
        end.tolist(), i0.tolist(), i1.tolist(), a.tolist(), b.tolist(), strict=True
    ):
        quotes = {}
        closed = e >= close_ts
        for name, series, empty in sides:
            window = series[q0 : q1 + 1]
            if closed:
                window = [*window, empty]
            last_quote = empty if closed else series[q1]
            quotes[name] = [_CENTS[series[q0]], _CENTS[min(window)], _CENTS[max(window)], _CENTS[last_quote]]
        if last > first:
            prices = price[first:last]
            mean = Decimal(value[last] - value[first]) / Decimal(volume[last] - volume[first]) / 100
            trade = [
                _CENTS[prices[0]],
                _CENTS[min(prices)],
                _CENTS[max(prices)],
                _CENTS[prices[-1]],
                price_str(mean),
            ]
        else:
            trade = [None] * 5
        trade.append(_CENTS[price[first - 1]] if first > 0 else None)
        contracts = f"{volume[last] - volume[first]}.00"
        held = f"{interest[last - 1] if last > 0 else 0}.00"
        out.append(shape(e, quotes, trade, contracts, held))
    return out


def _live(end: int, quotes: dict, trade: list, volume: str, interest: str) -> dict[str, Any]:
    ohlc = ("open_dollars", "low_dollars", "high_dollars", "close_dollars")
    return {
        "end_period_ts": end,
        **{name: dict(zip(ohlc, q, strict=True)) for name, q in quotes.items()},
        "price": dict(zip((*ohlc, "mean_dollars", "previous_dollars"), trade, strict=True)),
        "volume_fp": volume,
        "open_interest_fp": interest,
    }


def _historical(end: int, quotes: dict, trade: list, volume: str, interest: str) -> dict[str, Any]:
    ohlc = ("open", "low", "high", "close")
    return {
        "end_period_ts": end,
        **{name: dict(zip(ohlc, q, strict=True)) for name, q in quotes.items()},
        "price": dict(zip((*ohlc, "mean", "previous"), trade, strict=True)),
        "volume": volume,
        "open_interest": interest,
    }
