"""The daily job's steps as Airflow tasks call them: one function per task, plain values in and out.

A run is described by :class:`RunInfo` (built from Airflow's context in :mod:`tsa_bot.orchestration.context`).
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

from tsa_bot.core.config import get_settings
from tsa_bot.core.market import NEW_YORK, event_ticker_for_week
from tsa_bot.core.publication import publication_time
from tsa_bot.forecast import forecaster, pool
from tsa_bot.forecast.cache import default_cache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.data import to_series
from tsa_bot.forecast.store import load_strike_probabilities, save_forecast
from tsa_bot.kalshi.factories import client_for_run
from tsa_bot.kalshi.hosts import KalshiSettings
from tsa_bot.sources.ingest import fetch_tsa, load_tsa
from tsa_bot.sources.quality import PublicationLate, check_quality
from tsa_bot.trading import steps
from tsa_bot.trading.config import TradingConfig, TradingMode
from tsa_bot.trading.run import TradingRun
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
    calibration_weeks = int(run.params.get("calibration_weeks", DEFAULT_CALIBRATION_WEEKS))
    method = get_settings().forecast_pool
    pool_weight: float | None = None
    if method == "off":
        week_forecast = forecaster.forecast(
            series,
            first_unknown,
            calibration_weeks=calibration_weeks,
            cache=default_cache(),
        )
    else:
        pooled = pool.forecast(
            series, first_unknown, method, calibration_weeks=calibration_weeks, cache=default_cache()
        )
        week_forecast, pool_weight = pooled.forecast, pooled.choice.weight
    forecast_id = save_forecast(engine, week_forecast, run.run_key, baseline_weight=pool_weight)
    return {
        "model_version": week_forecast.model_version,
        "pool_weight": pool_weight,
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
    from tsa_bot.settlement.settle import settle_completed_weeks

    return settle_completed_weeks(get_engine(warehouse_url), as_of(run, warehouse_url))


# --- trading: configuration, run and client, then the step of tsa_bot.trading.steps ---------------------
# ``kalshi`` is where and who on the exchange (the DAG passes the Airflow connection's, key in memory);
# None reads KALSHI_API_BASE, KALSHI_KEY_ID and KALSHI_PRIVATE_KEY_PATH.


def _run_step(
    run: RunInfo,
    step: Callable[..., dict],
    warehouse_url: str | None,
    kalshi: KalshiSettings | None,
    *,
    cached_step: str | None = None,
) -> dict:
    """Load the trading run once, build its client if the step will talk to the exchange, run the step.

    The one way decide, place and reconcile reach the trading steps (fetch starts the run; settle reads).
    """
    config = TradingConfig.from_params(run.params)
    trading_run = TradingRun.load(get_engine(warehouse_url), run.run_key, config)
    with client_for_run(config, run.params, kalshi, needed=trading_run.needs_exchange(cached_step)) as client:
        return step(trading_run, client=client)


def fetch_market(
    run: RunInfo, forecast: dict, warehouse_url: str | None = None, kalshi: KalshiSettings | None = None
) -> dict:
    """Start the trading run and record its snapshot of the week's event (or why it is skipped)."""
    config = TradingConfig.from_params(run.params)
    event_ticker = event_ticker_for_week(date.fromisoformat(forecast["week_start"]))
    moment = as_of(run, warehouse_url)
    with client_for_run(config, run.params, kalshi) as client:
        return steps.fetch_step(
            get_engine(warehouse_url),
            run.run_key,
            event_ticker,
            config=config,
            client=client,
            params=run.params,
            as_of=moment,
        )


def price(run: RunInfo, forecast: dict, warehouse_url: str | None = None) -> dict:
    """Quote every strike of the run's snapshot against the forecast's strike probabilities."""
    probabilities = strike_probabilities(forecast["forecast_id"], warehouse_url)
    config = TradingConfig.from_params(run.params)
    return steps.price_step(TradingRun.load(get_engine(warehouse_url), run.run_key, config), probabilities)


def decide(run: RunInfo, warehouse_url: str | None = None, kalshi: KalshiSettings | None = None) -> dict:
    """Adopt and cancel stale orders of earlier runs, then decide (the paper book needs no exchange)."""
    return _run_step(run, steps.decide_step, warehouse_url, kalshi, cached_step="decide")


def place_orders(
    run: RunInfo, warehouse_url: str | None = None, kalshi: KalshiSettings | None = None
) -> dict:
    """Risk-check and place the decisions, each at most once."""
    return _run_step(run, steps.place_step, warehouse_url, kalshi)


def reconcile(run: RunInfo, warehouse_url: str | None = None, kalshi: KalshiSettings | None = None) -> dict:
    """Sync fills, record positions, finish the run."""
    return _run_step(run, steps.reconcile_step, warehouse_url, kalshi)


def settle_trades(
    run: RunInfo, week_start: date, warehouse_url: str | None = None, kalshi: KalshiSettings | None = None
) -> dict:
    """Record the exchange's P&L of the week's positions once Kalshi has settled it (reads only).

    Returns ``{event_ticker, mode, positions_settled, pnl}``, or ``{event_ticker, mode, skipped}`` for
    a backfill (it contacts no exchange; paper positions settle from TSA's first-published numbers).
    """
    config = TradingConfig.from_params(run.params)
    event_ticker = event_ticker_for_week(week_start)
    if config.backfill:
        return {
            "event_ticker": event_ticker,
            "mode": config.mode.value,
            "skipped": "backfill: no exchange is contacted; paper positions settle from TSA's numbers",
        }
    # Settlement only reads: a read-only client; live still needs its configuration opt-in.
    params = {**run.params, "live": True} if config.mode is TradingMode.LIVE else run.params
    with client_for_run(config, params, kalshi, read_only=True) as client:
        assert client is not None
        return steps.settle_step(get_engine(warehouse_url), event_ticker, client=client, mode=config.mode)
