import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tsa_bot.forecast.backtest import run_backtest
from tsa_bot.forecast.baseline import yoy_remaining_forecast
from tsa_bot.forecast.data import history_before, load_csv
from tsa_bot.forecast.forecaster import forecast
from tsa_bot.forecast.model import (
    DEFAULT_PARAMS,
    MODEL_VERSION,
    WeekFit,
    fit_week,
    remaining_days_forecast,
)

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
    model_error = abs(remaining_days_forecast(fit, history, 0).days.sum() / actual - 1)
    baseline_error = abs(yoy_remaining_forecast(history, week, 0).sum() / actual - 1)
    assert baseline_error > 0.10
    assert model_error < 0.04
    assert np.all(np.isfinite(fit.fitted))


def _flat_case(days_of_history: int, dip_lag: int | None, dip: float = 0.8):
    """A flat series at 2 M a day and a flat Prophet level, with one week dipped ``dip_lag`` days back."""
    week = pd.Timestamp(2025, 6, 2)
    index = pd.date_range(week - pd.Timedelta(days=days_of_history), week - pd.Timedelta(days=1))
    history = pd.Series(2e6, index=index)
    if dip_lag is not None:
        first = week - pd.Timedelta(days=dip_lag)
        dipped = (index >= first) & (index < first + pd.Timedelta(days=7))
        history[dipped] *= dip
    horizon = pd.date_range(week - pd.Timedelta(days=800), week + pd.Timedelta(days=6))
    fit = WeekFit(week.date(), pd.Series(np.log(2e6), index=horizon))
    return fit, history


def test_a_one_off_dip_in_last_years_anchor_week_is_damped_not_copied():
    # Last year's same week dipped 20% (a storm, a hurricane) while two years ago was normal: the dip is
    # clipped as a shock, then blended with the normal year and shrunk toward Prophet's level.
    fit, history = _flat_case(900, dip_lag=364)
    point = remaining_days_forecast(fit, history, 0).days
    p = DEFAULT_PARAMS
    expected = 2e6 * np.exp(-p.anchor_clip * (1 - p.prophet_weight) * (1 - p.two_year_weight))
    assert point == pytest.approx(np.full(7, expected), rel=1e-9)
    assert point.min() > 0.97 * 2e6
    assert point.max() < 2e6


def test_only_last_year_anchors_when_the_history_does_not_reach_two_years_back():
    # A 2% departure is within the clip: it anchors in full, shrunk toward Prophet's level only.
    fit, history = _flat_case(500, dip_lag=364, dip=0.98)
    assert np.log(0.98) > -DEFAULT_PARAMS.anchor_clip
    point = remaining_days_forecast(fit, history, 0).days
    expected = 2e6 * 0.98 ** (1 - DEFAULT_PARAMS.prophet_weight)
    assert point == pytest.approx(np.full(7, expected), rel=1e-9)


def test_the_known_days_shift_the_rest_of_the_week():
    # The week's first three days run 5% above a flat history: the remaining days move up, by less.
    fit, history = _flat_case(900, dip_lag=None)
    week = pd.Timestamp(fit.week_start)
    known = pd.Series(2.1e6, index=pd.date_range(week, periods=3))
    point = remaining_days_forecast(fit, pd.concat([history, known]), 3).days
    assert len(point) == 4
    assert np.all((point > 2e6) & (point < 2.1e6))


def test_the_recent_error_size_is_measured_on_the_days_before_as_of():
    # A flat history at the model's level has no error; three known days 5% above it have.
    fit, history = _flat_case(900, dip_lag=None)
    assert remaining_days_forecast(fit, history, 0).recent_abs_error == pytest.approx(0.0, abs=1e-12)
    week = pd.Timestamp(fit.week_start)
    known = pd.Series(2.1e6, index=pd.date_range(week, periods=3))
    later = pd.Series(9e6, index=pd.date_range(week + pd.Timedelta(days=3), periods=4))  # not yet known
    size = remaining_days_forecast(fit, pd.concat([history, known, later]), 3).recent_abs_error
    assert size == pytest.approx(3 * np.log(1.05) / DEFAULT_PARAMS.residual_days, rel=1e-9)


@pytest.mark.slow
def test_the_fitted_level_averages_one_prophet_fit_per_trend_setting(series):
    week = dt.date(2024, 6, 3)
    history = history_before(series, week)
    stiff = fit_week(history, week, replace(DEFAULT_PARAMS, changepoint_prior_scales=(0.01,))).fitted
    flexible = fit_week(history, week, replace(DEFAULT_PARAMS, changepoint_prior_scales=(0.05,))).fitted
    both = fit_week(history, week, replace(DEFAULT_PARAMS, changepoint_prior_scales=(0.05, 0.01))).fitted
    assert not np.allclose(stiff, flexible)  # the settings really differ
    assert both.to_numpy() == pytest.approx(((stiff + flexible) / 2).to_numpy(), abs=1e-6)


def test_a_weekday_running_above_the_rest_lately_moves_that_day_only():
    # The last four Sundays ran 3% above a flat model while the other days matched it: next Sunday's
    # forecast moves up, the other days slightly down (their departure from the four weeks' mean error).
    fit, history = _flat_case(900, dip_lag=None)
    week = pd.Timestamp(fit.week_start)
    recent_sundays = (history.index >= week - pd.Timedelta(days=28)) & (history.index.weekday == 6)
    assert recent_sundays.sum() == 4
    history[recent_sundays] *= 1.03
    with_weekdays = remaining_days_forecast(fit, history, 0).days
    without = remaining_days_forecast(fit, history, 0, replace(DEFAULT_PARAMS, weekday_weight=0.0)).days
    w = DEFAULT_PARAMS.weekday_weight
    expected = np.array([1.03 ** (-w / 7)] * 6 + [1.03 ** (w * 6 / 7)])
    assert with_weekdays / without == pytest.approx(expected, rel=1e-9)
