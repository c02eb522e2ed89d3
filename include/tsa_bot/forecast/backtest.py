"""The backtest: the forecaster (:mod:`tsa_bot.forecast.forecaster`) and the YoY baseline on past weeks,
walked forward week by week, and their scores (MAPE, 80 % coverage, Brier, log loss) over the range.
With ``pool``, the pool of the two (:mod:`tsa_bot.forecast.pool`) is scored beside them, its weights
learned point in time on the weeks settled before each forecast.

Each week is forecast exactly as it would have been live, from rows dated before its ``as_of``, with a
spread calibrated on weeks that ended before it: the backtest adds no knowledge, only the scoring.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tsa_bot.core import scoring
from tsa_bot.core.errors import ValidationError
from tsa_bot.core.market import mondays_between
from tsa_bot.forecast.baseline import BASELINE_VERSION
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.distribution import STRIKES, WeekForecast
from tsa_bot.forecast.forecaster import DEFAULT_WORKERS, ForecastedWeek, forecast_weeks
from tsa_bot.forecast.model import DEFAULT_PARAMS, MODEL_VERSION, ModelParams
from tsa_bot.forecast.pool import (
    POOL_VERSION,
    POOL_WEEKS,
    PooledWeek,
    PoolMethod,
    forecast_with_history,
    pool_weeks,
)


def week_score(forecast: WeekForecast, actual_mean: float) -> scoring.ForecastScore:
    """One week's score of a forecast distribution: the same one settlement stores for a live forecast."""
    return scoring.score_forecast(
        {s: forecast.prob_above(s) for s in STRIKES},
        actual_mean,
        forecast.mean,
        forecast.quantile(0.1),
        forecast.quantile(0.9),
    )


def score(
    forecasts: Sequence[WeekForecast], actuals: Sequence[float | None]
) -> dict[str, float | int | None]:
    """MAPE (fraction) of the mean, 80% interval coverage, Brier and log loss over the strike grid.

    Weeks without an outcome (not complete in the data) are left out; with none, the scores are None.
    """
    weeks = [week_score(f, a) for f, a in zip(forecasts, actuals, strict=True) if a is not None]
    if not weeks:
        return {"weeks": 0, "mape": None, "coverage80": None, "brier": None, "log_loss": None}
    return {
        "weeks": len(weeks),
        "mape": float(np.mean([w.abs_pct_error for w in weeks])),
        "coverage80": float(np.mean([w.in_80_interval for w in weeks])),
        "brier": float(np.mean([w.brier for w in weeks])),
        "log_loss": float(np.mean([w.log_loss for w in weeks])),
    }


@dataclass(frozen=True)
class BacktestResult:
    known_days: int
    weeks: list[ForecastedWeek] = field(default_factory=list)
    # The pool's forecast of each of ``weeks`` (same order) when the backtest scored it, else None.
    pooled: list[PooledWeek] | None = None
    pool_method: str | None = None

    def summary(self) -> dict[str, Any]:
        actuals = [w.point.actual_mean for w in self.weeks]
        model = score([w.model for w in self.weeks], actuals)
        baseline = score([w.baseline for w in self.weeks], actuals)
        out = {
            **model,
            "model_version": MODEL_VERSION,
            "baseline": {**baseline, "model_version": BASELINE_VERSION},
        }
        if self.pooled is not None:
            weights = [p.choice.weight for p in self.pooled]
            out["pool"] = {
                **score([p.forecast for p in self.pooled], actuals),
                "model_version": POOL_VERSION,
                "method": self.pool_method,
                "mean_weight": float(np.mean(weights)) if weights else None,
                "default_weeks": sum(p.choice.source == "default" for p in self.pooled),
            }
        return out

    def to_json(self) -> dict[str, Any]:
        pooled = self.pooled if self.pooled is not None else [None] * len(self.weeks)
        return {
            "known_days": self.known_days,
            "weeks": [_week_json(w, p) for w, p in zip(self.weeks, pooled, strict=True)],
            "summary": self.summary(),
        }


def _distribution_json(f: WeekForecast) -> dict[str, Any]:
    return {
        "mean": round(f.mean, 1),
        "q10": round(f.quantile(0.1), 1),
        "q50": round(f.quantile(0.5), 1),
        "q90": round(f.quantile(0.9), 1),
    }


def _week_json(w: ForecastedWeek, pooled: PooledWeek | None = None) -> dict[str, Any]:
    out = {
        "week_start": w.model.week_start.isoformat(),
        "as_of": w.model.as_of.isoformat(),
        "known_days": w.model.known_days,
        "actual": None if w.point.actual_mean is None else round(w.point.actual_mean, 1),
        **_distribution_json(w.model),
        "prob_above": {str(s): round(p, 5) for s, p in w.model.strike_probabilities().items()},
        "baseline": {
            **_distribution_json(w.baseline),
            "prob_above": {str(s): round(p, 5) for s, p in w.baseline.strike_probabilities().items()},
        },
    }
    if pooled is not None:
        out["pool"] = {
            **_distribution_json(pooled.forecast),
            "prob_above": {str(s): round(p, 5) for s, p in pooled.forecast.strike_probabilities().items()},
            "weight": pooled.choice.weight,
            "weight_source": pooled.choice.source,
            "weight_weeks": pooled.choice.weeks,
        }
    return out


def backtest_weeks(start: dt.date, end: dt.date, known_days: Sequence[int]) -> list[dt.date]:
    """The Mondays a backtest of [start, end] scores, after checking its range and known-days counts."""
    for k in known_days:
        if not 0 <= k <= 6:
            raise ValidationError(f"known days must be 0..6, got {k}")
    if start > end:
        raise ValidationError(f"start {start} is after end {end}")
    weeks = mondays_between(start, end)
    if not weeks:
        raise ValidationError(f"no Monday between {start} and {end}")
    return weeks


def run_backtest(
    series: pd.Series,
    start: dt.date,
    end: dt.date,
    known_days: Sequence[int] = (0,),
    params: ModelParams = DEFAULT_PARAMS,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    workers: int | None = None,
    pool: PoolMethod | None = None,
    cache: PointCache | None = None,
    pool_weeks_back: int = POOL_WEEKS,
) -> dict[int, BacktestResult]:
    """Backtest every week whose Monday is in [start, end], at each known-days count.

    With ``pool`` (``linear`` or ``log``), also the pool of the model and the baseline, its weight per
    week learned on the ``pool_weeks_back`` weeks settled before it (forecast too, before the range).
    """
    weeks = backtest_weeks(start, end, known_days)
    if workers is None:
        workers = min(DEFAULT_WORKERS, os.cpu_count() or 1)
    if pool is None:
        forecasts = forecast_weeks(series, weeks, known_days, params, calibration_weeks, workers, cache)
        return {k: BacktestResult(k, v) for k, v in forecasts.items()}
    found = forecast_with_history(
        series, weeks, known_days, params, calibration_weeks, workers, cache, pool_weeks_back
    )
    scored = set(weeks)
    out = {}
    for k, history in found.items():
        in_range = [w for w in history if w.point.week_start in scored]
        out[k] = BacktestResult(k, in_range, pool_weeks(in_range, history, pool, pool_weeks_back), pool)
    return out
