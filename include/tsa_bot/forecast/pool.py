"""A pool of the Prophet forecaster and the YoY baseline, on the distribution of the week's mean.

Both components are already calibrated distributions of the Monday–Sunday mean (samples, see
:mod:`tsa_bot.forecast.forecaster`: the baseline's spread comes from its own point-in-time errors per
known-days count, exactly as the model's does). The pool combines those two distributions, never the
per-strike probabilities, so the pooled strike probabilities stay monotone in the strike.

Two pools, ``weight`` being the baseline's share (0 = Prophet alone, 1 = the baseline alone):

- ``linear``: the mixture ``(1 - w) F_prophet + w F_baseline``. Its CDF lies between the components', so
  every quantile lies between theirs; it is at least as wide as the narrower one, and wider than both
  where they disagree.
- ``log``: the normalised geometric mean ``p^(1-w) b^w`` of the densities. For Gaussian components it is
  the Gaussian with precision ``(1-w)/σp² + w/σb²`` and the precision-weighted mean; that is how it is
  computed here, keeping each component's own (standardised) shape: the pooled quantile function is
  ``μ + σ · ((1-w) zp(u) + w zb(u))``, with ``zp``/``zb`` the components' standardised quantile functions.
  It is sharper than a mixture: its spread is at most the wider component's.

The weight is learned per known-days count, point in time: the grid weight (0, 0.1, …, 1) with the lowest
mean CRPS over the last ``POOL_WEEKS`` weeks settled before the forecast week began (CRPS is the integral
of the Brier score over every strike, so it rewards what the strike grid is scored on). With fewer than
``MIN_POOL_WEEKS`` such weeks, the weight is ``DEFAULT_WEIGHT``: 0, Prophet alone, the forecaster that was
tuned and backtested, until the baseline has shown it helps.

Evidence, the 52 weeks of 2025 (``benchmarks/forecast_backtest.py --pool linear log``): the pool does not
beat Prophet alone at most known-days counts, so the daily forecast stays on Prophet
(``TSABOT_FORECAST_POOL`` defaults to ``off``). At 0–4 known days the baseline is far behind (MAPE 1.1–2.2%
against 0.7–1.5%) and the learned weight stays at 0–0.03: the pool is Prophet, give or take a hair. At 5
and 6 known days the baseline is close and the pool improves MAPE and Brier (log pool, k=6: Brier 0.0033
against 0.0037), but widens an interval that already over-covers (k=6: 87% alone, 90% pooled), outside
75–85%. Of the two pools, ``log`` is the one to use if any: its Brier is at most the linear pool's at
every k and its log loss lower at five of seven, because the components' errors are strongly correlated
(both anchor on last year's same weeks) and a mixture adds the gap between their centres as extra
spread, while the precision weighting keeps the sharper component in charge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.data import InsufficientData, history_before, week_start_of
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.forecaster import (
    DEFAULT_WORKERS,
    ForecastedWeek,
    calibration_pool,
    forecast_weeks,
)
from tsa_bot.forecast.model import DEFAULT_PARAMS, ModelParams

PoolMethod = Literal["linear", "log"]
POOL_METHODS: tuple[str, ...] = ("linear", "log")
POOL_VERSION = "prophet-yoy-pool-v1"
WEIGHT_GRID: tuple[float, ...] = tuple(i / 10 for i in range(11))
POOL_WEEKS = 26  # settled weeks a weight is learned on: half a year, so a regime shift shows within months
MIN_POOL_WEEKS = 8  # fewer weeks' scores are too noisy to move off the default
DEFAULT_WEIGHT = 0.0  # with no history, Prophet alone


def _check_weight(weight: float) -> float:
    if not 0.0 <= weight <= 1.0 or not np.isfinite(weight):
        raise ValueError(f"pool weight must be in [0, 1], got {weight}")
    return float(weight)


def _sorted(samples: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    values = np.sort(np.asarray(samples, dtype=float))
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"{name} samples must be non-empty and finite")
    return values


def _levels(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


def _quantiles(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The empirical (inverted-CDF) quantiles of sorted ``values``: always one of the values."""
    index = np.ceil(levels * values.size).astype(int) - 1
    return values[np.clip(index, 0, values.size - 1)]


def linear_pool(prophet: np.ndarray, baseline: np.ndarray, weight: float) -> np.ndarray:
    """Sorted samples of the mixture, at evenly spaced levels of its CDF (deterministic, no sampling)."""
    a, b = np.sort(prophet), np.sort(baseline)
    candidates = np.union1d(a, b)
    cdf = (1 - weight) * np.searchsorted(a, candidates, side="right") / a.size + weight * np.searchsorted(
        b, candidates, side="right"
    ) / b.size
    levels = _levels(max(a.size, b.size))
    # The smallest candidate whose mixture CDF reaches the level (a tiny slack absorbs rounding).
    index = np.searchsorted(cdf, levels - 1e-12, side="left")
    return candidates[np.clip(index, 0, candidates.size - 1)]


def log_pool(prophet: np.ndarray, baseline: np.ndarray, weight: float) -> np.ndarray:
    """Sorted samples of the log pool, precision-weighted as for Gaussians (see the module)."""
    a, b = np.sort(prophet), np.sort(baseline)
    levels = _levels(max(a.size, b.size))
    qa, qb = _quantiles(a, levels), _quantiles(b, levels)
    mean_a, mean_b, sd_a, sd_b = float(a.mean()), float(b.mean()), float(a.std()), float(b.std())
    if sd_a <= 0 or sd_b <= 0:
        # A point mass has infinite precision: it is the pool wherever it has any weight.
        return qa if sd_a <= 0 else qb
    tau = (1 - weight) / sd_a**2 + weight / sd_b**2
    mean = ((1 - weight) * mean_a / sd_a**2 + weight * mean_b / sd_b**2) / tau
    shape = (1 - weight) * (qa - mean_a) / sd_a + weight * (qb - mean_b) / sd_b
    shape_sd = float(shape.std())
    if shape_sd > 0:
        shape = (shape - shape.mean()) / shape_sd
    return np.sort(mean + shape / np.sqrt(tau))


def pool_samples(
    prophet_samples: Sequence[float] | np.ndarray,
    baseline_samples: Sequence[float] | np.ndarray,
    weight: float,
    method: PoolMethod = "linear",
) -> np.ndarray:
    """Sorted samples of the pooled weekly mean; ``weight`` is the baseline's (0 gives Prophet's own)."""
    weight = _check_weight(weight)
    a, b = _sorted(prophet_samples, "prophet"), _sorted(baseline_samples, "baseline")
    if weight == 0.0:
        return a
    if weight == 1.0:
        return b
    if method == "linear":
        return linear_pool(a, b, weight)
    if method == "log":
        return log_pool(a, b, weight)
    raise ValueError(f"pool method must be one of {', '.join(POOL_METHODS)}, got {method!r}")


def pooled_forecast(
    prophet: WeekForecast, baseline: WeekForecast, weight: float, method: PoolMethod = "linear"
) -> WeekForecast:
    if (prophet.week_start, prophet.known_days) != (baseline.week_start, baseline.known_days):
        raise ValueError("pooling forecasts of different weeks or known-days counts")
    samples = pool_samples(prophet.samples, baseline.samples, weight, method)
    return WeekForecast(
        week_start=prophet.week_start,
        as_of=prophet.as_of,
        known_days=prophet.known_days,
        model_version=f"{POOL_VERSION}-{method}",
        samples=tuple(float(x) for x in samples),
    )


def crps(samples: Sequence[float] | np.ndarray, actual: float) -> float:
    """CRPS of the empirical distribution of ``samples`` at ``actual``: E|X - y| - E|X - X'| / 2."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    spread = 2.0 * float(np.sum((2 * np.arange(n) - n + 1) * x)) / n**2
    return float(np.mean(np.abs(x - actual))) - 0.5 * spread


@dataclass(frozen=True)
class SettledWeek:
    """One past week at one known-days count: both components' forecasts and the mean it settled at."""

    week_start: dt.date
    known_days: int
    prophet: tuple[float, ...]
    baseline: tuple[float, ...]
    actual_mean: float


@dataclass(frozen=True)
class WeightChoice:
    weight: float
    weeks: int  # settled weeks it was learned on (0: the default)
    source: str  # "learned" or "default"


def settled_before(
    history: Sequence[SettledWeek], week_start: dt.date, known_days: int, weeks: int = POOL_WEEKS
) -> list[SettledWeek]:
    """The last ``weeks`` weeks at ``known_days`` that ended before ``week_start`` (their Sunday is known
    at any moment of the week, as the forecaster sees every row before its ``as_of``)."""
    earliest = week_start - dt.timedelta(weeks=weeks)
    return sorted(
        (
            h
            for h in history
            if h.known_days == known_days and earliest <= h.week_start <= week_start - dt.timedelta(days=7)
        ),
        key=lambda h: h.week_start,
    )


def choose_weight(
    history: Sequence[SettledWeek],
    week_start: dt.date,
    known_days: int,
    method: PoolMethod = "linear",
    weeks: int = POOL_WEEKS,
    min_weeks: int = MIN_POOL_WEEKS,
    default: float = DEFAULT_WEIGHT,
) -> WeightChoice:
    """The grid weight with the lowest mean CRPS over the settled weeks before ``week_start``.

    Ties go to the smaller weight (closer to Prophet alone).
    """
    past = settled_before(history, week_start, known_days, weeks)
    if len(past) < min_weeks:
        return WeightChoice(_check_weight(default), 0, "default")
    best_weight, best_score = WEIGHT_GRID[0], float("inf")
    for weight in WEIGHT_GRID:
        score = float(
            np.mean([crps(pool_samples(h.prophet, h.baseline, weight, method), h.actual_mean) for h in past])
        )
        if score < best_score - 1e-9:
            best_weight, best_score = weight, score
    return WeightChoice(best_weight, len(past), "learned")


@dataclass(frozen=True)
class PooledWeek:
    """The pool's forecast of one week at one known-days count, and the weight it was pooled at."""

    forecast: WeekForecast
    choice: WeightChoice


def settled_weeks(weeks: Iterable[ForecastedWeek]) -> list[SettledWeek]:
    """The forecasts whose week has a complete outcome in the data, as pooling history."""
    return [
        SettledWeek(w.point.week_start, w.point.known_days, w.model.samples, w.baseline.samples, actual)
        for w in weeks
        if (actual := w.point.actual_mean) is not None
    ]


def pool_weeks(
    forecasted: Sequence[ForecastedWeek],
    history: Sequence[ForecastedWeek],
    method: PoolMethod = "linear",
    weeks: int = POOL_WEEKS,
) -> list[PooledWeek]:
    """Pool each of ``forecasted`` at the weight learned on the weeks of ``history`` settled before it.

    ``history`` may hold any weeks, later ones included: `choose_weight` keeps only those that ended
    before the forecast week began.
    """
    settled = settled_weeks(history)
    out = []
    for w in forecasted:
        choice = choose_weight(settled, w.point.week_start, w.point.known_days, method, weeks)
        out.append(PooledWeek(pooled_forecast(w.model, w.baseline, choice.weight, method), choice))
    return out


def forecast_with_history(
    series: pd.Series,
    week_starts: Sequence[dt.date],
    known_days: Sequence[int],
    params: ModelParams = DEFAULT_PARAMS,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    workers: int = DEFAULT_WORKERS,
    cache: PointCache | None = None,
    weeks: int = POOL_WEEKS,
) -> dict[int, list[ForecastedWeek]]:
    """`forecaster.forecast_weeks` of ``week_starts`` and of the ``weeks`` weeks before them, whose
    outcomes the pool's weights are learned on. Where the data does not reach back that far, only the
    weeks asked for (the weights then start from the default)."""
    asked = calibration_pool(week_starts, weeks)
    try:
        return forecast_weeks(series, asked, known_days, params, calibration_weeks, workers, cache)
    except InsufficientData:
        return forecast_weeks(series, week_starts, known_days, params, calibration_weeks, workers, cache)


def forecast(
    series: pd.Series,
    as_of: dt.date,
    method: PoolMethod = "linear",
    params: ModelParams = DEFAULT_PARAMS,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    workers: int = DEFAULT_WORKERS,
    cache: PointCache | None = None,
    weeks: int = POOL_WEEKS,
) -> PooledWeek:
    """The pool's forecast of the week containing ``as_of``, from rows dated before ``as_of`` (as
    `forecaster.forecast`, plus the ``POOL_WEEKS`` earlier weeks its weight is learned on)."""
    history = history_before(series, as_of)
    week_start = week_start_of(as_of)
    known = (as_of - week_start).days
    found = forecast_with_history(
        history, [week_start], [known], params, calibration_weeks, workers, cache, weeks
    )
    this = [w for w in found[known] if w.point.week_start == week_start]
    return pool_weeks(this, found[known], method, weeks)[0]
