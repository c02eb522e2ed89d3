"""A ``HistorySeed``'s crowd market rendered offline as quote interchange rows, without HTTP.

The rows are exactly those ``tsabot kalshi history`` downloads from a simulator hosting the seed and
``--export`` writes: the same exchange builds the markets and candles, the same client models parse them,
and each candle becomes a row of its closing YES bid, ask and trade price, its traded range, its volume
and open interest, and the market's result and close time (which the warehouse keeps; a file does not).
The replay's tests, its benchmark and the offline demo use this instead of a second generator.
"""

from __future__ import annotations

from datetime import date

from tsa_bot.kalshi.models import Candlestick, Market
from tsa_bot.kalshi_sim.candles import PERIODS
from tsa_bot.kalshi_sim.crowd import settlement_time
from tsa_bot.kalshi_sim.exchange import Exchange
from tsa_bot.kalshi_sim.history import HistorySeed
from tsa_bot.quotes.interchange import QuoteRow

DAY = 86_400
_FAR = 1 << 40  # a candle range's end past any week: the exchange stops at the market's last candle


def history_quote_rows(
    history: HistorySeed, *, period: int = 1440, now: float | None = None
) -> list[QuoteRow]:
    """The interchange rows of every market of ``history``, in canonical order.

    ``period`` is the candle length in minutes (60 or 1440). ``now`` is the exchange's clock (Unix
    seconds): candles not yet ended then do not exist and unsettled markets carry no result; by default
    a day after the last week's settlement, when every week is settled and its last candle has ended.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {sorted(PERIODS)} minutes, got {period}")
    mondays = list(history.mondays())
    if not mondays:
        return []
    clock = max(settlement_time(m) for m in mondays) + DAY if now is None else now
    exchange = Exchange(history=history, clock=lambda: clock)
    rows: list[QuoteRow] = []
    for sim_market in exchange.markets.values():
        market = Market.from_json(exchange.market_json(sim_market))
        result = market.result if market.result in ("yes", "no") else ""
        for raw in exchange.candlesticks(sim_market, 0, _FAR, period, historical=False):
            candle = Candlestick.from_json(raw)
            rows.append(
                QuoteRow(
                    event_ticker=market.event_ticker,
                    ticker=market.ticker,
                    floor_strike=market.floor_strike,
                    end_ts=candle.end_period_ts,
                    yes_bid=candle.yes_bid.close,
                    yes_ask=candle.yes_ask.close,
                    last_price=candle.price.close,
                    volume=candle.volume,
                    open_interest=candle.open_interest,
                    result=result,
                    price_low=candle.price.low,
                    price_high=candle.price.high,
                    close_time=market.close_time,
                )
            )
    return sorted(rows, key=QuoteRow.sort_key)


def truth_of(series) -> dict[date, int]:
    """A TSA series (``tsa_bot.forecast.data.load_csv``: passengers by day) as a ``HistorySeed`` truth."""
    return {day.date(): int(value) for day, value in series.items()}
