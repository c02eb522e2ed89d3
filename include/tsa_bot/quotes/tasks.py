"""What the ``tsa_market_history`` DAG's tasks call: keep the quote history current, one day at a time,
or backfill a range.

A run for day D (the moment it acts for, in New York) stores yesterday's candles: it refreshes the
series' markets closing from D - ``LOOKBACK`` on (the open events, and those that closed recently and may
have settled since), then fetches their candles up to midnight ending D - 1. A retry or a re-run of the
same day adds nothing; a day that was missed is caught up by the next run, which resumes each market
after its last stored candle.

Given ``start`` and ``end`` (New York dates), a run backfills instead: the markets closing from ``start``
to ``end`` and their candles up to now, which is what ``tsabot kalshi history --start --end`` downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tsa_bot.core.errors import optional_date_range
from tsa_bot.core.market import SERIES
from tsa_bot.core.publication import NEW_YORK
from tsa_bot.kalshi.hosts import KalshiSettings
from tsa_bot.quotes.download import history_client, sync_candles, sync_markets
from tsa_bot.quotes.store import day_start
from tsa_bot.warehouse.engine import get_engine
from tsa_bot.warehouse.migrate import migrate

# Settlement comes at most about a week after the close: a market closed longer ago has settled.
LOOKBACK = timedelta(days=9)


def yesterday(moment: datetime) -> date:
    return moment.astimezone(NEW_YORK).date() - timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """The markets a run reads (closing from ``start``, to ``end`` if set) and how far their candles go
    (``until``; None: now)."""

    start: date
    end: date | None
    until: datetime | None
    label: dict


def window(moment: datetime, start: date | str | None = None, end: date | str | None = None) -> Window:
    """Yesterday's window for a run at ``moment``, or the backfill of ``start`` .. ``end`` (both or none)."""
    given = optional_date_range(start, end)
    if given is None:
        day = yesterday(moment)
        return Window(day - LOOKBACK, None, day_start(day + timedelta(days=1)), {"day": day.isoformat()})
    first, last = given
    return Window(first, last, None, {"start": first.isoformat(), "end": last.isoformat()})


def _engine(warehouse_url: str | None):
    engine = get_engine(warehouse_url)
    migrate(engine)
    return engine


def refresh_markets(
    moment: datetime,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    series: str = SERIES,
    kalshi: KalshiSettings | None = None,
    warehouse_url: str | None = None,
) -> dict:
    """Store the events and markets of the window (status, result, expiration): by default those open
    or settling yesterday.

    ``kalshi`` says where to read (the DAG passes the Airflow connection's); no key is used.
    """
    span = window(moment, start, end)
    with history_client(kalshi) as client:
        synced = sync_markets(client, _engine(warehouse_url), series=series, start=span.start, end=span.end)
    return {**span.label, "markets": synced.markets, "markets_new": synced.markets_new}


def fetch_candles(
    moment: datetime,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    series: str = SERIES,
    period: int = 60,
    kalshi: KalshiSettings | None = None,
    warehouse_url: str | None = None,
) -> dict:
    """Fetch the window's markets' candles (by default up to the end of yesterday); each market resumes
    where it stopped."""
    span = window(moment, start, end)
    with history_client(kalshi) as client:
        synced = sync_candles(
            client,
            _engine(warehouse_url),
            series=series,
            start=span.start,
            end=span.end,
            period=period,
            until=span.until,
        )
    return {
        **span.label,
        "requests": synced.requests,
        "candles_new": synced.candles_new,
        "candles_changed": synced.candles_changed,
    }
