"""Point-in-time forecasts of a week's mean: the live forecast, and the same forecast of past weeks that
calibrates its spread (and that the backtest, :mod:`tsa_bot.forecast.backtest`, scores).

Every forecast for (week, known_days) is made from rows dated before ``as_of = week_start + known_days``:
- the Prophet fit sees rows before ``week_start`` (`model.fit_week`);
- the known days and residual correction see rows before ``as_of`` (`data.history_before` does the cut);
- the spread comes from earlier weeks' errors, each of those forecast the same way, and only weeks that
  ended before ``week_start`` (`calibration.errors_before`), scaled by the model's recent error size,
  itself measured on rows before ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from tsa_bot.core.errors import ValidationError
from tsa_bot.forecast.baseline import BASELINE_VERSION, yoy_remaining_forecast
from tsa_bot.forecast.cache import PointCache, cache_key
from tsa_bot.forecast.calibration import (
    DEFAULT_CALIBRATION_WEEKS,
    MIN_CALIBRATION_WEEKS,
    PastError,
    errors_before,
    kernel_bandwidth,
)
from tsa_bot.forecast.data import InsufficientData, history_before, week_start_of
from tsa_bot.forecast.distribution import WeekForecast, build_forecast
from tsa_bot.forecast.model import (
    DEFAULT_PARAMS,
    MODEL_VERSION,
    ModelParams,
    fit_week,
    remaining_days_forecast,
)

DEFAULT_WORKERS = 2


def max_workers() -> int:
    """The most forecast processes ``--workers`` may start: one per core (at least the default).

    Each Prophet fit is CPU-bound and its process holds its own copy of the data, so processes beyond the
    cores add memory and contention, not speed (48 on 2 cores started 48 processes for 2 fits). Above the
    cap is refused, not clamped: a silent clamp would hide that the run is not what was asked for.
    """
    return max(os.cpu_count() or 1, DEFAULT_WORKERS)


def check_workers(workers: int) -> int:
    cap = max_workers()
    if not 1 <= workers <= cap:
        raise ValidationError(f"--workers must be 1 to {cap} (the number of cores here), got {workers}")
    return workers


@dataclass(frozen=True)
class WeekPoint:
    """Point forecasts of one week at one known-days count, and the outcome when the data has it."""

    week_start: dt.date
    known_days: int
    known_sum: float
    model_remaining: float
    model_recent_abs_error: float
    baseline_remaining: float
    actual_mean: float | None

    @property
    def actual_remaining(self) -> float | None:
        return None if self.actual_mean is None else self.actual_mean * 7 - self.known_sum


def week_points(
    series: pd.Series, week_start: dt.date, known_days: Sequence[int], params: ModelParams = DEFAULT_PARAMS
) -> list[WeekPoint]:
    """One Prophet fit for the week, then the point forecasts at each known-days count."""
    fit = fit_week(history_before(series, week_start), week_start, params)
    start = pd.Timestamp(week_start)
    week = series[(series.index >= start) & (series.index < start + pd.Timedelta(days=7))]
    actual_mean = float(week.mean()) if len(week) == 7 else None
    points = []
    for k in known_days:
        history = history_before(series, week_start + dt.timedelta(days=k))
        known = history[history.index >= start]
        model = remaining_days_forecast(fit, history, k, params)
        points.append(
            WeekPoint(
                week_start=week_start,
                known_days=k,
                known_sum=float(known.sum()),
                model_remaining=float(model.days.sum()),
                model_recent_abs_error=model.recent_abs_error,
                baseline_remaining=float(yoy_remaining_forecast(history, week_start, k).sum()),
                actual_mean=actual_mean,
            )
        )
    return points


def _points_or_reason(
    args: tuple[pd.Series, dt.date, tuple[int, ...], ModelParams],
) -> list[WeekPoint] | str:
    series, week_start, known_days, params = args
    try:
        return week_points(series, week_start, known_days, params)
    except InsufficientData as exc:
        return str(exc)


def _rows_for(series: pd.Series, week_start: dt.date) -> pd.Series:
    """The rows a week's forecasts may see: those before its Sunday + 1, nothing later can leak in."""
    return series[series.index < pd.Timestamp(week_start + dt.timedelta(days=7))]


def points_for_week(
    series: pd.Series, week_start: dt.date, known_days: Sequence[int], params: ModelParams = DEFAULT_PARAMS
) -> list[WeekPoint] | str:
    """One week's point forecasts, or why it cannot be forecast: one unit of a backtest, run anywhere."""
    ks = tuple(sorted(set(known_days)))
    return _points_or_reason((_rows_for(series, week_start), week_start, ks, params))


def _all_points(
    series: pd.Series,
    weeks: Sequence[dt.date],
    known_days: tuple[int, ...],
    params: ModelParams,
    workers: int,
    cache: PointCache | None = None,
) -> dict[dt.date, list[WeekPoint] | str]:
    tasks = [(_rows_for(series, w), w, known_days, params) for w in weeks]
    found: dict[dt.date, list[WeekPoint] | str] = {}
    keys: dict[dt.date, str] = {}
    if cache is not None:
        for rows, week, _, _ in tasks:
            keys[week] = cache_key(MODEL_VERSION, params, week, known_days, rows)
            hit = cache.get(keys[week], decode_points)
            if hit is not None:
                found[week] = hit
    todo = [t for t in tasks if t[1] not in found]
    # A daemonic process (e.g. a Celery worker) may not start children: forecast inline there.
    if workers <= 1 or len(todo) <= 1 or multiprocessing.current_process().daemon:
        computed = [_points_or_reason(t) for t in todo]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            computed = list(pool.map(_points_or_reason, todo))
    for (_, week, _, _), result in zip(todo, computed, strict=True):
        found[week] = result
        if cache is not None:
            cache.put(keys[week], encode_points(result))
    return {w: found[w] for w in weeks}


def encode_points(found: list[WeekPoint] | str) -> Any:
    if isinstance(found, str):
        return {"reason": found}
    return [{**asdict(p), "week_start": p.week_start.isoformat()} for p in found]


def decode_points(payload: Any) -> list[WeekPoint] | str:
    if isinstance(payload, dict):
        return str(payload["reason"])
    return [WeekPoint(**{**p, "week_start": dt.date.fromisoformat(p["week_start"])}) for p in payload]


def _past_errors(points: dict[dt.date, list[WeekPoint] | str]) -> tuple[list[PastError], list[PastError]]:
    """Errors of every week with a complete outcome; weeks that could not be forecast are skipped."""
    model, baseline = [], []
    for found in points.values():
        for p in found if isinstance(found, list) else []:
            remaining = p.actual_remaining
            if remaining is None or remaining <= 0:
                continue
            model.append(
                PastError(
                    p.week_start,
                    p.known_days,
                    math.log(remaining / p.model_remaining),
                    p.model_recent_abs_error,
                )
            )
            baseline.append(PastError(p.week_start, p.known_days, math.log(remaining / p.baseline_remaining)))
    return model, baseline


def _forecast_from(point: WeekPoint, remaining: float, errors: list[float], version: str) -> WeekForecast:
    if len(errors) < MIN_CALIBRATION_WEEKS:
        raise InsufficientData(
            f"only {len(errors)} past weeks to calibrate the forecast of {point.week_start}; "
            f"need {MIN_CALIBRATION_WEEKS} (more history before the week)"
        )
    return build_forecast(
        point.week_start,
        point.known_days,
        version,
        point.known_sum,
        remaining,
        errors,
        kernel_bandwidth(errors),
    )


@dataclass(frozen=True)
class ForecastedWeek:
    """One week at one known-days count: its point forecasts, and the model's and the baseline's calibrated
    distributions built on them."""

    point: WeekPoint
    model: WeekForecast
    baseline: WeekForecast


def forecast_weeks(
    series: pd.Series,
    week_starts: Sequence[dt.date],
    known_days: Sequence[int],
    params: ModelParams = DEFAULT_PARAMS,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    workers: int = DEFAULT_WORKERS,
    cache: PointCache | None = None,
) -> dict[int, list[ForecastedWeek]]:
    """Model and baseline forecasts for each week and known-days count, calibrated on earlier weeks."""
    ks = tuple(sorted(set(known_days)))
    points = _all_points(series, calibration_pool(week_starts, calibration_weeks), ks, params, workers, cache)
    return calibrate_weeks(points, week_starts, ks, calibration_weeks)


def calibration_pool(week_starts: Sequence[dt.date], calibration_weeks: int) -> list[dt.date]:
    """The weeks to forecast: those asked for and the ``calibration_weeks`` before the first of them."""
    if not week_starts:
        return []
    first = min(week_starts)
    return sorted({first - dt.timedelta(weeks=i) for i in range(1, calibration_weeks + 1)} | set(week_starts))


def calibrate_weeks(
    points: dict[dt.date, list[WeekPoint] | str],
    week_starts: Sequence[dt.date],
    known_days: Sequence[int],
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
) -> dict[int, list[ForecastedWeek]]:
    """Each week's model and baseline distributions, their spread calibrated on the earlier weeks' errors.

    ``points`` holds every week of :func:`calibration_pool`, however they were computed.
    """
    ks = tuple(sorted(set(known_days)))
    model_errors, baseline_errors = _past_errors(points)
    out: dict[int, list[ForecastedWeek]] = {k: [] for k in ks}
    for week_start in sorted(week_starts):
        found = points[week_start]
        if isinstance(found, str):
            raise InsufficientData(f"week of {week_start}: {found}")
        for p in found:
            m_err = errors_before(
                model_errors, week_start, p.known_days, calibration_weeks, p.model_recent_abs_error
            )
            b_err = errors_before(baseline_errors, week_start, p.known_days, calibration_weeks)
            out[p.known_days].append(
                ForecastedWeek(
                    p,
                    _forecast_from(p, p.model_remaining, m_err, MODEL_VERSION),
                    _forecast_from(p, p.baseline_remaining, b_err, BASELINE_VERSION),
                )
            )
    return out


def forecast(
    series: pd.Series,
    as_of: dt.date,
    params: ModelParams = DEFAULT_PARAMS,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    workers: int = DEFAULT_WORKERS,
    cache: PointCache | None = None,
) -> WeekForecast:
    """The model's forecast of the week containing ``as_of``, made with rows dated before ``as_of``.

    Re-forecasts the ``calibration_weeks`` weeks before it to calibrate the spread: that many + 1 weeks,
    each one Prophet fit per trend setting (about a minute on two cores for the default 52). With a
    ``cache``, weeks already forecast from the same rows are read back instead of refitted.
    """
    history = history_before(series, as_of)
    week_start = week_start_of(as_of)
    known = (as_of - week_start).days
    scored = forecast_weeks(history, [week_start], [known], params, calibration_weeks, workers, cache)
    return scored[known][0].model
