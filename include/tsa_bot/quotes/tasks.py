"""What the ``tsa_market_history`` DAG's tasks call: keep the quote history current, one day at a time.

A run for day D (the moment it acts for, in New York) stores yesterday's candles: it refreshes the
series' markets closing from D - ``LOOKBACK`` on (the open events, and those that closed recently and may
have settled since), then fetches their candles up to midnight ending D - 1. A retry or a re-run of the
same day adds nothing; a day that was missed is caught up by the next run, which resumes each market
after its last stored candle.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tsa_bot.kalshi.client import SERIES
from tsa_bot.publication import NEW_YORK
from tsa_bot.quotes.download import history_client, sync_candles, sync_markets
from tsa_bot.quotes.store import day_start
from tsa_bot.warehouse.engine import get_engine
from tsa_bot.warehouse.migrate import migrate

# Settlement comes at most about a week after the close: a market closed longer ago has settled.
LOOKBACK = timedelta(days=9)


def yesterday(moment: datetime) -> date:
    return moment.astimezone(NEW_YORK).date() - timedelta(days=1)


def _engine(warehouse_url: str | None):
    engine = get_engine(warehouse_url)
    migrate(engine)
    return engine


def _use_airflow_connection() -> None:
    """Point the client at the Airflow connection ``kalshi``'s host, if there is one.

    Market data needs no key: the one the connection may hold is dropped at once.
    """
    from tsa_bot.orchestration import kalshi_private_key

    try:
        kalshi_private_key()
    except ImportError:  # no Airflow: KALSHI_API_BASE as it is
        return


def refresh_markets(moment: datetime, *, series: str = SERIES, warehouse_url: str | None = None) -> dict:
    """Store the events and markets that were open or settling yesterday (status, result, expiration)."""
    _use_airflow_connection()
    day = yesterday(moment)
    with history_client() as client:
        synced = sync_markets(client, _engine(warehouse_url), series=series, start=day - LOOKBACK, end=None)
    return {"day": day.isoformat(), "markets": synced.markets, "markets_new": synced.markets_new}


def fetch_candles(
    moment: datetime, *, series: str = SERIES, period: int = 60, warehouse_url: str | None = None
) -> dict:
    """Fetch those markets' candles up to the end of yesterday; each market resumes where it stopped."""
    _use_airflow_connection()
    day = yesterday(moment)
    with history_client() as client:
        synced = sync_candles(
            client,
            _engine(warehouse_url),
            series=series,
            start=day - LOOKBACK,
            end=None,
            period=period,
            until=day_start(day + timedelta(days=1)),
        )
    return {
        "day": day.isoformat(),
        "requests": synced.requests,
        "candles_new": synced.candles_new,
        "candles_changed": synced.candles_changed,
    }
