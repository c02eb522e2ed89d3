"""The daily job's steps as Airflow tasks call them: one function per task, plain values in and out.

A run is described by :class:`RunInfo` (built from Airflow's context in :mod:`tsa_bot.orchestration`).
``as_of`` is the moment the run acts for: the scheduled time, or for a manual run the time it was
triggered. Backfill runs act for their past date, see only what was published by then, never fetch
tsa.gov and never trade outside the paper book.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from tsa_bot.config import get_settings
from tsa_bot.forecast.backtest import forecast as forecast_distribution
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.data import to_series
from tsa_bot.forecast.store import load_strike_probabilities, save_forecast
from tsa_bot.ingest import fetch_tsa, load_tsa
from tsa_bot.publication import NEW_YORK, publication_time
from tsa_bot.quality import PublicationLate, check_quality
from tsa_bot.trading import steps
from tsa_bot.warehouse.engine import get_engine
from tsa_bot.warehouse.migrate import migrate
from tsa_bot.warehouse.tsa_daily import first_published_as_of

log = logging.getLogger(__name__)

# The offline page set stops at its last day; an offline run acts as if just after it was published.
OFFLINE_LAG = timedelta(minutes=30)


@dataclass(frozen=True)
class RunInfo:
    run_key: str
    run_time: datetime
    backfill: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def offline(self) -> bool:
        return bool(self.params.get("offline")) or get_settings().offline

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_time"] = self.run_time.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInfo:
        return cls(
            data["run_key"], datetime.fromisoformat(data["run_time"]), data["backfill"], data["params"]
        )


def ingest(run: RunInfo, warehouse_url: str | None = None) -> dict:
    """Fetch TSA's pages (not in a backfill: those runs use the warehouse as it was)."""
    if run.backfill:
        return {"skipped": "backfill: uses what was published by then", "page_ids": []}
    return fetch_tsa(
        offline=run.offline, full_history=bool(run.params.get("full_history")), warehouse_url=warehouse_url
    )


def load(run: RunInfo, fetched: dict, warehouse_url: str | None = None) -> dict:
    if not fetched.get("page_ids"):
        return {"skipped": fetched.get("skipped", "nothing fetched")}
    return load_tsa(fetched["page_ids"], run_key=run.run_key, warehouse_url=warehouse_url)


def as_of(run: RunInfo, warehouse_url: str | None = None) -> datetime:
    """The moment this run acts for. Offline, that is just after the page set's last day was published."""
    moment = run.run_time.astimezone(NEW_YORK)
    if run.offline and not run.backfill:
        engine = get_engine(warehouse_url)
        known = first_published_as_of(engine, moment)
        if known:
            moment = min(moment, publication_time(known[-1].day) + OFFLINE_LAG)
    return moment


def quality_gate(run: RunInfo, warehouse_url: str | None = None) -> dict:
    """Raise unless the data support a forecast now. If TSA is late, fetch again before saying so.

    The gate retries into the afternoon (see the DAG); each attempt re-scrapes the current page, so a
    late publication is picked up as soon as it appears, and an alert goes out only if it never does.
    """
    engine = get_engine(warehouse_url)
    migrate(engine)
    moment = as_of(run, warehouse_url)
    try:
        report = check_quality(engine, moment)
    except PublicationLate:
        if run.backfill or run.offline:
            raise
        fetched = fetch_tsa(current_only=True, warehouse_url=warehouse_url)
        load_tsa(fetched["page_ids"], run_key=run.run_key, warehouse_url=warehouse_url)
        report = check_quality(engine, moment)
    return report.as_json()


def forecast(run: RunInfo, warehouse_url: str | None = None) -> dict:
    """Forecast the week being traded from the first-published numbers known at ``as_of``; save it."""
    engine = get_engine(warehouse_url)
    moment = as_of(run, warehouse_url)
    known = first_published_as_of(engine, moment)
    series = to_series(
        pd.Series([r.passengers for r in known], index=pd.DatetimeIndex([pd.Timestamp(r.day) for r in known]))
    )
    # The forecaster's as_of is the first day not yet known: the day after the newest published one.
    first_unknown = known[-1].day + timedelta(days=1)
    calibration_weeks = int(run.params.get("calibration_weeks", 52))
    week_forecast = forecast_distribution(
        series,
        first_unknown,
        calibration_weeks=calibration_weeks,
        cache=PointCache(get_settings().state_dir / "forecast-cache"),
    )
    forecast_id = save_forecast(engine, week_forecast, run.run_key)
    return {
        "forecast_id": forecast_id,
        "week_start": week_forecast.week_start.isoformat(),
        "known_days": week_forecast.known_days,
        "as_of": moment.isoformat(),
        "mean": round(week_forecast.mean),
        "q10": round(week_forecast.quantile(0.1)),
        "q90": round(week_forecast.quantile(0.9)),
    }


def strike_probabilities(forecast_id: int, warehouse_url: str | None = None) -> dict[int, float]:
    return load_strike_probabilities(get_engine(warehouse_url), forecast_id)


def settle(run: RunInfo, warehouse_url: str | None = None) -> dict:
    """Score and settle (paper) every week complete at this run's ``as_of``."""
    from tsa_bot.settlement import settle_completed_weeks

    return settle_completed_weeks(get_engine(warehouse_url), as_of(run, warehouse_url))


# --- trading: thin adapters from a run to tsa_bot.trading.steps -------------------------------------


def _kalshi_key() -> bytes | None:
    from tsa_bot.orchestration import kalshi_private_key

    try:
        return kalshi_private_key()
    except ImportError:  # outside Airflow: the client reads KALSHI_PRIVATE_KEY_PATH
        return None


def fetch_market(run: RunInfo, forecast: dict, warehouse_url: str | None = None) -> dict:
    return steps.fetch_market(
        run.run_key,
        date.fromisoformat(forecast["week_start"]),
        params=run.params,
        as_of=as_of(run, warehouse_url),
        warehouse_url=warehouse_url,
        private_key_pem=_kalshi_key(),
    )


def price(run: RunInfo, forecast: dict, warehouse_url: str | None = None) -> dict:
    probabilities = strike_probabilities(forecast["forecast_id"], warehouse_url)
    return steps.price_market(
        run.run_key, probabilities=probabilities, params=run.params, warehouse_url=warehouse_url
    )


def _exchange_step(step: Callable[..., dict], run: RunInfo, warehouse_url: str | None) -> dict:
    return step(run.run_key, params=run.params, warehouse_url=warehouse_url, private_key_pem=_kalshi_key())


def decide(run: RunInfo, warehouse_url: str | None = None) -> dict:
    return _exchange_step(steps.decide_orders, run, warehouse_url)


def place_orders(run: RunInfo, warehouse_url: str | None = None) -> dict:
    return _exchange_step(steps.place_orders, run, warehouse_url)


def reconcile(run: RunInfo, warehouse_url: str | None = None) -> dict:
    return _exchange_step(steps.reconcile, run, warehouse_url)
