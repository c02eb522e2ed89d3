import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tsa_bot.forecast.backtest import forecast, run_backtest
from tsa_bot.forecast.baseline import yoy_remaining_forecast
from tsa_bot.forecast.data import history_before, load_csv
from tsa_bot.forecast.model import MODEL_VERSION, fit_week, remaining_days_forecast

WEEK = dt.date(2025, 5, 19)  # the week before Memorial Day


@pytest.fixture(scope="module")
def series(shared_csv):
    return load_csv(shared_csv)


@pytest.mark.slow
def test_backtest_forecasts_are_point_in_time(series):
    as_of = pd.Timestamp(WEEK) + pd.Timedelta(days=3)
    full = run_backtest(series, WEEK, WEEK, known_days=(0, 3, 6), calibration_weeks=8)
    truncated = run_backtest(series[series.index < as_of], WEEK, WEEK, known_days=(3,), calibration_weeks=8)
    shocked_series = series.copy()
    shocked_series[shocked_series.index >= as_of] *= 1.5
    shocked = run_backtest(shocked_series, WEEK, WEEK, known_days=(3,), calibration_weeks=8)

    reference = full[3].weeks[0]
    assert truncated[3].weeks[0].model == reference.model
    assert truncated[3].weeks[0].baseline == reference.baseline
    assert shocked[3].weeks[0].model == reference.model
    # The outcome is only scored where the data has it, and it is the real one.
    assert truncated[3].weeks[0].point.actual_mean is None
    actual = series[pd.Timestamp(WEEK) : pd.Timestamp(WEEK) + pd.Timedelta(days=6)].mean()
    assert reference.point.actual_mean == pytest.approx(actual)
    assert shocked[3].weeks[0].point.actual_mean > 1.2 * actual

    # Each known day narrows the distribution: six known days leave one day to forecast.
    widths = {
        k: full[k].weeks[0].model.quantile(0.9) - full[k].weeks[0].model.quantile(0.1) for k in (0, 3, 6)
    }
    assert widths[6] < widths[3] < widths[0]
    assert full[0].weeks[0].model.as_of == WEEK
    assert full[6].weeks[0].model.as_of == WEEK + dt.timedelta(days=6)


@pytest.mark.slow
def test_live_forecast_matches_the_backtest_and_ignores_later_rows(series):
    as_of = WEEK + dt.timedelta(days=3)
    live = forecast(series, as_of, calibration_weeks=8)
    backtested = run_backtest(series, WEEK, WEEK, known_days=(3,), calibration_weeks=8)[3].weeks[0].model
    assert live == backtested
    assert live.model_version == MODEL_VERSION
    assert live.known_days == 3
    known_sum = series[pd.Timestamp(WEEK) : pd.Timestamp(as_of) - pd.Timedelta(days=1)].sum()
    # The known days enter the mean exactly: every sample is at least their share of the week.
    assert min(live.samples) > known_sum / 7


@pytest.mark.slow
def test_model_moves_thanksgiving_where_the_yoy_baseline_cannot(series):
    # Thanksgiving 2024 fell on 11-28, a week later than 364 days earlier (2023-11-23): last year's same
    # weekdays put the holiday in the wrong week, and the baseline misses by about 14%.
    week = dt.date(2024, 11, 25)
    history = history_before(series, week)
    fit = fit_week(history, week)
    actual = series[pd.Timestamp(week) : pd.Timestamp(week) + pd.Timedelta(days=6)].sum()
    model_error = abs(remaining_days_forecast(fit, history, 0).sum() / actual - 1)
    baseline_error = abs(yoy_remaining_forecast(history, week, 0).sum() / actual - 1)
    assert baseline_error > 0.10
    assert model_error < 0.04
    assert np.all(np.isfinite(fit.fitted))
