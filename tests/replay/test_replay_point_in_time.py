"""Point in time, both ways: cutting either input after a moment leaves everything up to it unchanged.

The TSA series loses every number published after the moment (the schedule the DAG uses); the quote
history loses every candle ending after it. The trades made at or before the moment must be identical, and
so must the forecast's probability of every strike at every moment up to it (a moment without trades would
hide a leak from the trades alone). Real Prophet fits (eight calibration weeks to keep it short); every
policy, on the simulator's crowd's quotes (``history_quote_rows``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from tsa_bot.core.market import mondays_between
from tsa_bot.core.publication import NEW_YORK, publication_time
from tsa_bot.forecast.cache import default_cache
from tsa_bot.forecast.data import load_csv
from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows, truth_of
from tsa_bot.replay.engine import MODEL, replay
from tsa_bot.replay.forecasts import Forecaster
from tsa_bot.replay.market import event_histories
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.policies import policy_names

pytestmark = pytest.mark.slow

START, END = dt.date(2025, 3, 3), dt.date(2025, 3, 17)
# Wednesday 12 March, the close: the middle of the second week (Monday and Tuesday of it are known).
MOMENT = dt.datetime(2025, 3, 13, 0, 0, tzinfo=NEW_YORK)


@pytest.mark.parametrize("policy", policy_names())
def test_truncating_either_input_after_the_moment_changes_no_trade_up_to_it(policy: str, shared_csv: Path):
    series = load_csv(shared_csv)
    rows = history_quote_rows(HistorySeed(START, END, truth=truth_of(series)))
    config = TradingConfig(policy=policy)
    cache = default_cache()  # the run's: the replay tests fit these weeks too

    def trades(tsa: pd.Series, quotes: list) -> tuple[list[tuple], list[tuple]]:
        """The trades up to the moment, and the forecast's and the market's probability of every strike up
        to it (the market's where both sides are quoted: the simulator's deep strikes are one-sided)."""
        weeks = mondays_between(START, END)
        histories = event_histories(quotes, weeks)
        forecaster = Forecaster(tsa, calibration_weeks=8, cache=cache)
        forecaster.warm(weeks)
        out = replay(histories, weeks, forecaster, config, source=MODEL)
        made = [(t.moment, t.ticker, t.direction, t.count, t.price, t.fee) for t in out.trades]
        made = [t for t in made if t[0] <= MOMENT]
        seen = [
            (h.moment, strike, p, h.market.get(strike))
            for h in out.scored
            if h.moment <= MOMENT
            for strike, p in sorted(h.model.items())
        ]
        return made, seen

    full = trades(series, rows)
    days = {t[0].astimezone(NEW_YORK).date() for t in full[0]}
    assert len(full[0]) >= 5 and len(full[1]) > 100 and {d for d in days if d >= dt.date(2025, 3, 10)}, (
        "the test needs trades on both sides"
    )

    published = series[[publication_time(day.date()) <= MOMENT for day in series.index]]
    assert published.index[-1] == pd.Timestamp("2025-03-11")  # Tuesday's number, out Wednesday 09:00
    assert trades(published, rows) == full

    candles = [r for r in rows if r.end_ts <= MOMENT]
    assert len(candles) < len(rows)
    assert trades(series, candles) == full
