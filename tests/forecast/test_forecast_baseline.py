import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tsa_bot.forecast.baseline import yoy_remaining_forecast
from tsa_bot.forecast.data import load_csv


def test_baseline_scales_last_year_by_the_recent_yoy_ratio():
    index = pd.date_range("2023-01-02", "2024-03-31", freq="D")
    weekday_shape = np.array([1.0, 0.9, 0.95, 1.1, 1.2, 1.0, 1.15])
    last_year = 2_000_000 * weekday_shape[index.dayofweek]
    # This year runs 5% above last year's same weekday.
    growth = np.where(index >= pd.Timestamp("2024-01-01"), 1.05, 1.0)
    series = pd.Series(last_year * growth, index=index)
    week_start = dt.date(2024, 3, 4)
    for known in (0, 3):
        remaining = yoy_remaining_forecast(series, week_start, known)
        assert len(remaining) == 7 - known
        expected = 2_000_000 * 1.05 * weekday_shape[known:]
        np.testing.assert_allclose(remaining, expected, rtol=1e-9)


def test_baseline_ignores_rows_on_or_after_as_of(shared_csv):
    series = load_csv(shared_csv)
    week_start = dt.date(2025, 6, 2)
    as_of = pd.Timestamp(week_start) + pd.Timedelta(days=2)
    shocked = series.copy()
    shocked[shocked.index >= as_of] *= 3
    np.testing.assert_array_equal(
        yoy_remaining_forecast(series, week_start, 2), yoy_remaining_forecast(shocked, week_start, 2)
    )
    assert yoy_remaining_forecast(series, week_start, 2).sum() == pytest.approx(
        series[as_of : as_of + pd.Timedelta(days=4)].sum(), rel=0.05
    )
