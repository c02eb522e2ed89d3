"""Prophet on log passengers, anchored on last year's same weekday, corrected by the latest residuals.

1. Prophet fits ``log y`` with yearly and weekly seasonality and one indicator per (holiday, day offset)
   window (`calendar.HOLIDAY_WINDOWS`), on 2019 plus the post-COVID period: the 2020–22 collapse is
   left out, so each holiday is learned from four or more years instead of one or two. It is fitted
   once per trend flexibility in ``changepoint_prior_scales`` and the fitted log levels are averaged: no
   single setting was best in both 2023 (a stiff trend wins) and 2024 (a flexible one does); the
   average matched the flexible one in 2024 and kept most of the stiff one's gain in 2023.
2. A day is forecast from the same weekday one and two years earlier, each times Prophet's predicted
   change between the two dates, ``y[t-L] * exp(f(t) - f(t-L))`` for ``L`` = 364 and 728, blended in
   log space and shrunk a little toward Prophet's own level ``f(t)``. In other words Prophet's level plus
   a shrunk blend of the residuals ``log y - f`` on those earlier days: the anchors carry what no smooth
   seasonality knows (school calendars, local events), Prophet's difference moves the holidays that
   changed weekday or week, and the blend, the shrinkage and a clip of each residual to ±4% damp a
   one-off shock (a storm, a hurricane) in an anchor year.
3. The errors of step 2 are strongly autocorrelated (weather, shutdowns, fares), so the week's remaining
   days are shifted by a decaying weighted mean of the latest errors, including the week's known days,
   and each by its weekday's recent departure from that mean (the weekly pattern drifts).
   Their mean size is reported too: the spread is scaled by it (`calibration.errors_before`).

One fit serves every ``as_of`` of a week: it uses only rows before the week's Monday, never later than
``as_of``; the known days enter only through step 3.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsa_bot.forecast.calendar import YOY_LAG_DAYS, holiday_indicators
from tsa_bot.forecast.data import fill_daily

MODEL_VERSION = "prophet-anchored-v3"
# Anchor lags: the same weekday one and two years earlier.
_LAGS = (YOY_LAG_DAYS, 2 * YOY_LAG_DAYS)


@dataclass(frozen=True)
class ModelParams:
    """Defaults chosen by backtesting the weeks of 2024, with 2023 as a check; 2025 is only reported.

    See benchmarks/forecast_backtest.py; the trend ensemble was added on both years' figures.
    """

    # Rows in [covid_start, resume) are left out of the fit.
    covid_start: dt.date = dt.date(2020, 3, 1)
    resume: dt.date = dt.date(2022, 3, 1)
    # One Prophet fit per trend flexibility; their fitted log levels are averaged.
    changepoint_prior_scales: tuple[float, ...] = (0.05, 0.01)
    changepoint_range: float = 0.95
    yearly_fourier: int = 15
    seasonality_prior_scale: float = 10.0
    holiday_prior_scale: float = 1.0
    # Residual correction: weighted mean of the last `residual_days` errors, weight halving every
    # `half_life` days, scaled by `residual_weight`.
    residual_days: int = 14
    half_life: float = 3.0
    residual_weight: float = 0.4
    # The same for Prophet's own level, used where no earlier year's days can anchor (COVID gap).
    level_residual_weight: float = 0.7
    # The weekly pattern drifts (Sundays ran ~2% above the model through 2024): each remaining day is also
    # moved by `weekday_weight` times how far its weekday's errors over the last `weekday_weeks` weeks
    # ran from those weeks' mean error.
    weekday_weeks: int = 4
    weekday_weight: float = 0.5
    # Anchor: weight of the t-728 anchor beside t-364 (when both lie outside the COVID gap), and how far
    # the blended anchor is shrunk toward Prophet's own level (0 = pure anchor, 1 = pure Prophet).
    two_year_weight: float = 0.3
    prophet_weight: float = 0.2
    # An earlier year's day further than this (log) from Prophet's level was a shock there (a storm, a
    # hurricane, an outage), not a feature of the calendar: its residual is clipped before it anchors.
    anchor_clip: float = 0.04


DEFAULT_PARAMS = ModelParams()


def _recent_window_days(params: ModelParams) -> int:
    """Days before as_of whose errors steer the forecast: the residual and the weekday windows."""
    return max(params.residual_days, 7 * params.weekday_weeks)


@dataclass(frozen=True)
class WeekFit:
    """Prophet's fitted log level around one week, from a fit on the rows before ``week_start``."""

    week_start: dt.date
    fitted: pd.Series  # log level, daily, from ~760 days before week_start through its Sunday


@dataclass(frozen=True)
class RemainingForecast:
    """Point forecasts of the week's unknown days, and how large the model's latest errors were."""

    days: np.ndarray
    # Mean |log error| of the anchored level over the `residual_days` days before as_of: the spread of
    # the week's distribution is scaled by it, so calm spells give sharper forecasts than stormy ones.
    recent_abs_error: float


def _quiet_prophet() -> None:
    # Prophet logs an ERROR on import when plotly is missing (never used here), and cmdstanpy configures
    # its logger at DEBUG with its own handler on first use: make that happen now, then raise the level.
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    from cmdstanpy.utils import get_logger

    get_logger()
    for name in ("prophet", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def fit_week(history: pd.Series, week_start: dt.date, params: ModelParams = DEFAULT_PARAMS) -> WeekFit:
    """Fit Prophet on the rows before ``week_start``; return its fitted log level around that week.

    One fit per ``params.changepoint_prior_scales``, averaged in log space.
    """
    _quiet_prophet()
    from prophet import Prophet

    start = pd.Timestamp(week_start)
    logged = np.log(history[history.index < start])
    covid = (logged.index >= pd.Timestamp(params.covid_start)) & (logged.index < pd.Timestamp(params.resume))
    train_y = logged[~covid]
    # Fitted values reach back over the recent-error window plus that window's own t-728 anchors.
    days_before = 2 * YOY_LAG_DAYS + _recent_window_days(params)
    horizon = pd.date_range(start - pd.Timedelta(days=days_before), start + pd.Timedelta(days=6))
    indicators = holiday_indicators(train_y.index.union(horizon))
    active = [c for c in indicators.columns if indicators.loc[train_y.index, c].any()]

    train = pd.DataFrame({"ds": train_y.index, "y": train_y.to_numpy()})
    future = pd.DataFrame({"ds": horizon})
    for column in active:
        train[column] = indicators.loc[train_y.index, column].to_numpy()
        future[column] = indicators.loc[horizon, column].to_numpy()

    levels = []
    for changepoint_prior_scale in params.changepoint_prior_scales:
        model = Prophet(
            changepoint_prior_scale=changepoint_prior_scale,
            changepoint_range=params.changepoint_range,
            yearly_seasonality=False,
            weekly_seasonality=False,
            daily_seasonality=False,
            uncertainty_samples=0,
        )
        model.add_seasonality(
            "yearly",
            period=365.25,
            fourier_order=params.yearly_fourier,
            prior_scale=params.seasonality_prior_scale,
        )
        model.add_seasonality("weekly", period=7, fourier_order=3, prior_scale=params.seasonality_prior_scale)
        for column in active:
            model.add_regressor(column, prior_scale=params.holiday_prior_scale, standardize=False)
        model.fit(train, algorithm="LBFGS")
        levels.append(model.predict(future)["yhat"].to_numpy())
    return WeekFit(week_start, pd.Series(np.mean(levels, axis=0), index=horizon))


def remaining_days_forecast(
    fit: WeekFit, history: pd.Series, known_days: int, params: ModelParams = DEFAULT_PARAMS
) -> RemainingForecast:
    """Point forecasts of the week's days after the first ``known_days``, using rows before as_of only."""
    week = pd.date_range(pd.Timestamp(fit.week_start), periods=7, freq="D")
    as_of = week[0] + pd.Timedelta(days=known_days)
    logged = np.log(fill_daily(history[history.index < as_of]))
    f = fit.fitted
    window = _recent_window_days(params)
    recent = pd.date_range(as_of - pd.Timedelta(days=window), as_of - pd.Timedelta(days=1))
    remaining = week[known_days:]

    # An earlier year's days are no anchor while they lie in the COVID period the fit leaves out (2020–22
    # levels), nor where the history does not reach back to them: use the other lag alone, or fall back
    # to Prophet's own level when neither serves (forecasts up to spring 2023).
    span = recent.union(week)
    lag_weights = {YOY_LAG_DAYS: 1.0 - params.two_year_weight, 2 * YOY_LAG_DAYS: params.two_year_weight}
    lags = [
        lag
        for lag in _LAGS
        if lag_weights[lag] > 0 and _usable_anchor(logged, span - pd.Timedelta(days=lag), params)
    ]
    anchored = bool(lags)

    def log_point(days: pd.DatetimeIndex) -> np.ndarray:
        level = f.reindex(days).to_numpy()
        if not anchored:
            return level
        residual = sum(
            lag_weights[lag]
            * np.clip(
                logged.reindex(days - pd.Timedelta(days=lag)).to_numpy()
                - f.reindex(days - pd.Timedelta(days=lag)).to_numpy(),
                -params.anchor_clip,
                params.anchor_clip,
            )
            for lag in lags
        ) / sum(lag_weights[lag] for lag in lags)
        return level + (1.0 - params.prophet_weight) * residual

    window_errors = logged.reindex(recent).to_numpy() - log_point(recent)
    errors = window_errors[-params.residual_days :]
    age = np.arange(params.residual_days, 0, -1)
    weights = 0.5 ** ((age - 1) / params.half_life)
    ok = np.isfinite(errors)
    correction = 0.0
    if ok.any():
        weight = params.residual_weight if anchored else params.level_residual_weight
        correction = weight * float(np.sum(weights[ok] * errors[ok]) / weights[ok].sum())
    recent_abs_error = float(np.mean(np.abs(errors[ok]))) if ok.any() else float("nan")
    log_forecast = log_point(remaining) + correction
    if anchored and params.weekday_weight:
        log_forecast += params.weekday_weight * _weekday_departures(
            window_errors[-7 * params.weekday_weeks :], recent[-7 * params.weekday_weeks :], remaining
        )
    return RemainingForecast(np.exp(log_forecast), recent_abs_error)


def _weekday_departures(errors: np.ndarray, days: pd.DatetimeIndex, targets: pd.DatetimeIndex) -> np.ndarray:
    """For each target day, how far its weekday's recent errors ran from all recent errors (0 if unknown)."""
    ok = np.isfinite(errors)
    if not ok.any():
        return np.zeros(len(targets))
    overall = errors[ok].mean()
    weekdays = days.weekday.to_numpy()
    departures = []
    for weekday in targets.weekday:
        same = ok & (weekdays == weekday)
        departures.append(errors[same].mean() - overall if same.any() else 0.0)
    return np.asarray(departures)


def _usable_anchor(logged: pd.Series, days: pd.DatetimeIndex, params: ModelParams) -> bool:
    """Whether these earlier days can anchor a forecast: all outside the COVID gap and all in the data."""
    covid = (days >= pd.Timestamp(params.covid_start)) & (days < pd.Timestamp(params.resume))
    return not covid.any() and bool(np.isfinite(logged.reindex(days).to_numpy()).all())
