"""Download a series' events, markets and candlesticks from Kalshi into the warehouse, resumably.

Which endpoint serves a market depends on ``GET /historical/cutoff``: markets settled before its
``market_settled_ts`` (and their candles) are only under ``/historical``. A range that starts after the
cutoff cannot contain such a market (a market settles after it closes), so the archive is listed only when
the range reaches back before it.

Markets are chosen by close time: those closing on a New York date from ``start`` to ``end`` (for KXTSAW,
the weeks whose Sunday is in the range), and each one's candles cover its whole life up to ``until``.
Each market's candles are stored in one transaction with a note of how far they reach, so an interrupted
download resumes where it stopped, a market whose last candle is stored is never asked for again, and running
it twice adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import sqlalchemy as sa

from tsa_bot.core.market import SERIES
from tsa_bot.kalshi.client import KalshiClient, RetryPolicy
from tsa_bot.kalshi.hosts import KalshiSettings, is_production_host
from tsa_bot.kalshi.models import Market
from tsa_bot.quotes import store
from tsa_bot.quotes.pacing import DEFAULT_READS_PER_S, PacedTransport

log = logging.getLogger(__name__)

PERIODS = (60, 1440)  # minutes: hourly or daily candles
# A market with no open time on record: its candles are looked for this far before its close.
DEFAULT_LIFETIME = timedelta(days=8)
# Kalshi publishes a candle within minutes of its end. A market counts as complete once its last candle
# (the one holding the close) is stored, or once this long has passed since that candle's end without it
# coming (a period without quotes has none): until then the next download asks again.
LATE_CANDLE_GRACE = timedelta(days=1)


def history_client(
    settings: KalshiSettings | None = None,
    *,
    read_rate: float = DEFAULT_READS_PER_S,
    retry: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> KalshiClient:
    """A GET-only, unsigned client paced under the read limit, for ``KALSHI_API_BASE``.

    Market data needs no key, so none is loaded. Like paper mode's client it may read production: it can
    send nothing but GETs, and real quote history only exists there.
    """
    settings = settings or KalshiSettings.from_env()
    return KalshiClient(
        settings.api_base,
        read_only=True,
        allow_production=is_production_host(settings.api_base),
        retry=retry,
        transport=PacedTransport(read_rate, transport),
    )


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _last_candle_end(close: datetime, period: int) -> datetime:
    """The end of the candle holding the close: candles end on multiples of the period in Unix time, so
    the last one may end after the market closed (a daily candle at 00:00Z after a 03:59Z close)."""
    seconds = period * 60
    return datetime.fromtimestamp(-(-_unix(close) // seconds) * seconds, UTC)


def _closes_in(market: Market, lo: datetime, hi: datetime | None) -> bool:
    close = market.close_time
    return close is not None and close >= lo and (hi is None or close < hi)


@dataclass(frozen=True)
class MarketSync:
    """What a refresh of events and markets found and changed; small enough for an XCom."""

    series: str
    start: str
    end: str | None
    cutoff: str
    events: int
    markets: int
    archived_markets: int
    events_new: int
    events_changed: int
    markets_new: int
    markets_changed: int


@dataclass(frozen=True)
class CandleSync:
    """What a candle fetch asked for and stored."""

    period: int
    until: str
    markets: int
    markets_complete_before: int
    requests: int
    candles: int
    candles_new: int
    candles_changed: int


def sync_markets(
    client: KalshiClient, engine: sa.Engine, *, series: str, start: date, end: date | None
) -> MarketSync:
    """Store the series' events and the markets closing from ``start`` to ``end`` (open-ended if None)."""
    lo = store.day_start(start)
    hi = store.day_start(end + timedelta(days=1)) if end else None
    cutoff = client.historical_cutoff().market_settled_ts
    listed = client.markets_closing(
        series_ticker=series, min_close_ts=_unix(lo) - 1, max_close_ts=_unix(hi) if hi else None
    )
    # The bounds again, exactly: Kalshi's are "after" and "before", the range's start is inclusive.
    live = [m for m in listed if _closes_in(m, lo, hi)]
    live_tickers = {m.ticker for m in live}
    archived: list[Market] = []
    if lo < cutoff:
        archived = [
            m
            for m in client.historical_markets(series_ticker=series)
            if _closes_in(m, lo, hi) and m.ticker not in live_tickers  # mid-archiving: live wins
        ]
    wanted = {m.event_ticker for m in live + archived}
    events = [
        e for e in client.events(series_ticker=series, min_close_ts=_unix(lo) - 1) if e.event_ticker in wanted
    ]
    for missing in sorted(wanted - {e.event_ticker for e in events}):
        events.append(client.event(missing))
    with engine.begin() as conn:
        written_events = store.upsert_events(conn, events)
        written_markets = store.upsert_markets(conn, live, archived=False) + store.upsert_markets(
            conn, archived, archived=True
        )
    summary = MarketSync(
        series=series,
        start=start.isoformat(),
        end=end.isoformat() if end else None,
        cutoff=cutoff.isoformat(),
        events=len(events),
        markets=len(live) + len(archived),
        archived_markets=len(archived),
        events_new=written_events.new,
        events_changed=written_events.changed,
        markets_new=written_markets.new,
        markets_changed=written_markets.changed,
    )
    log.info("quote history markets: %s", summary)
    return summary


@dataclass(frozen=True)
class _Target:
    ticker: str
    event_ticker: str
    open_time: datetime | None
    close_time: datetime
    archived: bool


def sync_candles(
    client: KalshiClient,
    engine: sa.Engine,
    *,
    series: str,
    start: date,
    end: date | None,
    period: int,
    until: datetime | None = None,
) -> CandleSync:
    """Fetch the candles of the stored markets closing from ``start`` to ``end``, up to ``until`` (now).

    Each market resumes after its last stored candle; one whose last candle is stored (or overdue by
    :data:`LATE_CANDLE_GRACE`) is skipped.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS} minutes, got {period}")
    until = until or datetime.now(UTC)
    lo = store.day_start(start)
    hi = store.day_start(end + timedelta(days=1)) if end else None
    with engine.connect() as conn:
        targets = [
            _Target(**row)
            for row in conn.execute(
                sa.text(
                    "select ticker, event_ticker, open_time, close_time, archived from quote_markets"
                    " where starts_with(event_ticker, cast(:s as text) || '-') and close_time >= :lo"
                    " and (cast(:hi as timestamptz) is null or close_time < :hi)"
                    " order by close_time, ticker"
                ),
                {"s": series, "lo": lo, "hi": hi},
            ).mappings()
        ]
        progress = store.download_progress(conn, period)
    requests = complete_before = candles = 0
    written = store.Written()
    for target in targets:
        done = progress.get(target.ticker)
        if done and done.complete:
            complete_before += 1
            continue
        window_start = (
            (done and done.fetched_through) or target.open_time or target.close_time - DEFAULT_LIFETIME
        )
        last_end = _last_candle_end(target.close_time, period)
        window_end = min(last_end, until)
        if window_end < window_start:
            continue  # not open yet at ``until``
        window = {"start_ts": _unix(window_start), "end_ts": _unix(window_end), "period_interval": period}
        if target.archived:
            fetched = client.historical_market_candlesticks(target.ticker, **window)
        else:
            fetched = client.market_candlesticks(series, target.ticker, **window)
        requests += 1
        candles += len(fetched)
        last = max((c.end_period_ts for c in fetched), default=None)
        with engine.begin() as conn:
            written += store.save_candles(conn, target.ticker, period, fetched)
            complete = (last is not None and last >= last_end) or until >= last_end + LATE_CANDLE_GRACE
            store.record_progress(conn, target.ticker, period, last, complete=complete)
    summary = CandleSync(
        period=period,
        until=until.isoformat(),
        markets=len(targets),
        markets_complete_before=complete_before,
        requests=requests,
        candles=candles,
        candles_new=written.new,
        candles_changed=written.changed,
    )
    log.info("quote history candles: %s", summary)
    return summary


@dataclass(frozen=True)
class DownloadSummary:
    markets: MarketSync
    candles: CandleSync

    def as_json(self) -> dict:
        return asdict(self)


def download_history(
    client: KalshiClient,
    engine: sa.Engine,
    *,
    series: str = SERIES,
    start: date,
    end: date | None,
    period: int = 60,
    until: datetime | None = None,
) -> DownloadSummary:
    """Events and markets, then candles: what ``tsabot kalshi history`` does."""
    markets = sync_markets(client, engine, series=series, start=start, end=end)
    candles = sync_candles(client, engine, series=series, start=start, end=end, period=period, until=until)
    return DownloadSummary(markets, candles)
