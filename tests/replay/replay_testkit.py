"""Quote histories for the replay's tests and benchmark: a crowd that sees the truth through noise.

Until the simulator serves candlesticks (branch ``sim``), this makes KXTSAW histories in the interchange
format: per week, 21 strikes 25,000 apart around a noisy guess of the week's mean, and one daily candle per
day ending at midnight New York. The crowd's centre is the true weekly mean times ``exp(noise)``, with a
noise shrinking as the week's numbers come out and a shock shared by the week (the market is sometimes
wrong all week); its probabilities are normal around that centre with its own stated spread; the book
is that probability ± a spread of 2-6 cents, in cents, inside 0.01-0.99.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import pandas as pd

from tsa_bot.market import NEW_YORK, event_ticker_for_week
from tsa_bot.quotes.interchange import QuoteRow

CENT = Decimal("0.01")
STRIKE_STEP = 25_000
STRIKES_PER_EVENT = 21


def _cents(x: float) -> Decimal:
    return (Decimal(repr(round(x, 2)))).quantize(CENT)


def generate_quotes(
    series: pd.Series,
    mondays: list[dt.date],
    *,
    seed: int = 2025,
    results: bool = True,
    candles_per_day: int = 1,
) -> list[QuoteRow]:
    """The quote rows of each week's event (``results``: markets carry their result, strict ``>``)."""
    rng = np.random.default_rng(seed)
    normal = NormalDist()
    rows: list[QuoteRow] = []
    for monday in mondays:
        start = pd.Timestamp(monday)
        week = series[(series.index >= start) & (series.index < start + pd.Timedelta(days=7))]
        if len(week) < 7:
            continue
        truth = float(week.mean())
        event = event_ticker_for_week(monday)
        centre = round(truth * float(np.exp(rng.normal(0, 0.02))) / STRIKE_STEP) * STRIKE_STEP
        strikes = [centre + (i - STRIKES_PER_EVENT // 2) * STRIKE_STEP for i in range(STRIKES_PER_EVENT)]
        shock = rng.normal(0, 0.012)
        for day_index in range(7):
            day = monday + dt.timedelta(days=day_index)
            known = min(day_index, 4)
            scale = 0.035 * (7 - known) / 7 + 0.003
            guess = truth * float(np.exp(shock * (7 - known) / 7 + rng.normal(0, scale / 2)))
            spread_of_mean = truth * scale
            close = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), NEW_YORK)
            for c in range(candles_per_day):
                end = close - dt.timedelta(hours=(candles_per_day - 1 - c) * 24 / candles_per_day)
                for strike in strikes:
                    p = 1 - normal.cdf((strike - guess) / spread_of_mean)
                    half = float(rng.choice([0.01, 0.02, 0.03]))
                    bid = _cents(p - half) if p - half >= 0.01 else None
                    ask = _cents(p + half) if p + half <= 0.99 else None
                    result = ("yes" if truth > strike else "no") if results else ""
                    rows.append(
                        QuoteRow(
                            event_ticker=event,
                            ticker=f"{event}-T{strike}",
                            floor_strike=strike,
                            end_ts=end.astimezone(dt.UTC),
                            yes_bid=bid,
                            yes_ask=ask,
                            last_price=_cents(min(max(p, 0.01), 0.99)),
                            volume=Decimal(int(rng.integers(0, 500))),
                            open_interest=Decimal(int(rng.integers(0, 5000))),
                            result=result,
                        )
                    )
    return sorted(rows, key=QuoteRow.sort_key)
