"""Forecasts in the warehouse: an Airflow task saves one and hands its id to the next through XCom."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa

from tsa_bot.core.errors import TsaBotError
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.distribution import STRIKES, WeekForecast

QUANTILE_LEVELS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(1, 100))


class ForecastNotFound(TsaBotError):
    """No forecast with that id in the warehouse."""


_INSERT = sa.text(
    """
    insert into forecasts
        (run_key, week_start, as_of, known_days, model_version, mean, quantiles, samples, baseline_weight)
    values
        (:run_key, :week_start, :as_of, :known_days, :model_version, :mean,
         cast(:quantiles as jsonb), :samples, :baseline_weight)
    on conflict (run_key, week_start, as_of, model_version) do nothing
    returning id
    """
)
_EXISTING = sa.text(
    "select id from forecasts"
    " where run_key = :run_key and week_start = :week_start and as_of = :as_of"
    " and model_version = :model_version"
)


def save_forecast(
    engine: sa.Engine, forecast: WeekForecast, run_key: str, *, baseline_weight: float | None = None
) -> int:
    """Store a forecast and its strike probabilities; return its id. ``baseline_weight``: the YoY
    baseline's share of a pooled forecast (``forecast.pool``), None for Prophet alone.

    Idempotent on (run_key, week_start, as_of, model_version): saving again returns the first row's id and
    leaves that row as it was, so what a decision was based on never changes under it.
    """
    if not run_key:
        raise ValueError("run_key must not be empty")
    key = {
        "run_key": run_key,
        "week_start": forecast.week_start,
        "as_of": forecast.as_of,
        "model_version": forecast.model_version,
    }
    quantiles = {f"{q:.2f}": forecast.quantile(q) for q in QUANTILE_LEVELS}
    with engine.begin() as conn:
        new_id = conn.execute(
            _INSERT,
            {
                **key,
                "known_days": forecast.known_days,
                "mean": forecast.mean,
                "quantiles": json.dumps(quantiles),
                "samples": list(forecast.samples),
                "baseline_weight": baseline_weight,
            },
        ).scalar()
        if new_id is None:
            return int(conn.execute(_EXISTING, key).scalar_one())
        conn.execute(
            sa.text(
                "insert into forecast_strike_probs (forecast_id, strike, prob_above)"
                " values (:id, :strike, :p)"
            ),
            [{"id": new_id, "strike": s, "p": p} for s, p in forecast.strike_probabilities(STRIKES).items()],
        )
        return int(new_id)


def load_forecast(engine: sa.Engine, forecast_id: int) -> WeekForecast:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select week_start, as_of, known_days, model_version, samples from forecasts where id = :id"
            ),
            {"id": forecast_id},
        ).first()
    if row is None:
        raise ForecastNotFound(f"no forecast with id {forecast_id} in the warehouse")
    return WeekForecast(
        week_start=row.week_start,
        as_of=row.as_of,
        known_days=row.known_days,
        model_version=row.model_version,
        samples=tuple(float(x) for x in row.samples),
    )


def load_strike_probabilities(engine: sa.Engine, forecast_id: int) -> dict[int, float]:
    """The strike probabilities as saved (the pricing step reads these, not recomputed ones)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select strike, prob_above from forecast_strike_probs where forecast_id = :id order by 1"
            ),
            {"id": forecast_id},
        ).all()
    if not rows:
        raise ForecastNotFound(f"no strike probabilities for forecast id {forecast_id}")
    return {int(r.strike): float(r.prob_above) for r in rows}


def forecast_to_warehouse(
    engine: sa.Engine,
    series: pd.Series,
    as_of: dt.date,
    run_key: str,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    cache: PointCache | None = None,
) -> int:
    """What an Airflow task calls: forecast the week of ``as_of`` from rows before it, save, return the id."""
    from tsa_bot.forecast.forecaster import forecast

    week_forecast = forecast(series, as_of, calibration_weeks=calibration_weeks, cache=cache)
    return save_forecast(engine, week_forecast, run_key)
