"""The year-over-year baseline every model is reported beside.

Last year's same weekdays (t−364), scaled by the ratio of the last 7 known days to their t−364 values.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tsa_bot.forecast.calendar import YOY_LAG_DAYS
from tsa_bot.forecast.data import fill_daily

BASELINE_VERSION = "yoy-baseline-v1"


def yoy_remaining_forecast(history: pd.Series, week_start: dt.date, known_days: int) -> np.ndarray:
    """Point forecasts of the week's days after the known ones, from rows dated before ``as_of`` only."""
    start = pd.Timestamp(week_start)
    as_of = start + pd.Timedelta(days=known_days)
    daily = fill_daily(history[history.index < as_of])
    lag = pd.Timedelta(days=YOY_LAG_DAYS)
    last7 = daily.iloc[-7:]
    ratio = last7.sum() / daily.reindex(last7.index - lag).sum()
    remaining = pd.date_range(as_of, start + pd.Timedelta(days=6), freq="D")
    return daily.reindex(remaining - lag).to_numpy() * ratio
