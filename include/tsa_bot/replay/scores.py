"""Score the warehouse's quote history for the market's weight: the model's and the market's P(YES) at each
daily trading moment of every settled week, kept in ``quote_scores`` (migration 0010).

- Which weeks: each KXTSAW event (the replay's weekly events) with candles of the period whose week had
  settled by ``now`` (all seven of its TSA days known to the warehouse then, the Sunday's published), not
  yet scored for this candle period and model version, and not half downloaded (no market of it with an
  unfinished download).
- What: the replay's own moments and probabilities, from :func:`replay.engine.replay` with
  ``source=nothing`` (its ``scored``): at each day's moment (the first candle ending at or after 09:30 New
  York) the model's fair P(YES) from :class:`replay.forecasts.Forecaster` on the warehouse's
  first-published numbers, point in time (only what TSA had published by the moment), and the market's
  implied P(YES) from that candle (``market_implied.implied_probabilities``). Strikes without both sides
  are left out. No outcome is stored: a reader settles each week from what it knew by its own moment
  (``trading.market_history``).
- How: a few weeks at a time (their Prophet fits in parallel, kept in the forecast cache), each week with
  its moments in one transaction, so an interrupted scoring keeps the weeks it finished and the next one
  resumes after them. A week without a scored moment (the model could not forecast it: too little TSA
  history before it; or no candle priced both sides) is reported with why and not stored, so it is tried
  again once more data is in. Running it twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tsa_bot.core.market import SERIES
from tsa_bot.core.publication import publication_time
from tsa_bot.forecast.cache import PointCache, default_cache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.data import to_series
from tsa_bot.forecast.forecaster import DEFAULT_WORKERS
from tsa_bot.forecast.model import MODEL_VERSION
from tsa_bot.pricing.market_implied import ScoredWeek
from tsa_bot.quotes.store import read_history
from tsa_bot.replay.engine import NOTHING, replay
from tsa_bot.replay.forecasts import Forecaster
from tsa_bot.replay.market import event_histories
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.market_history import week_of_event
from tsa_bot.warehouse.engine import get_engine, warehouse_errors
from tsa_bot.warehouse.migrate import migrate
from tsa_bot.warehouse.tsa_daily import first_published_as_of

CHUNK_WEEKS = 8  # weeks fitted together before their scores are stored
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class HistoryScoring:
    """What one scoring did: weeks scored now (moments, strikes), and why the other weeks were not."""

    period: int
    model_version: str
    weeks_scored: int = 0
    moments: int = 0
    strikes: int = 0
    already_scored: int = 0
    not_settled: int = 0
    downloading: int = 0  # a market of the week's event has an unfinished download of the period
    not_forecast: dict[str, str] = field(default_factory=dict)  # event -> why nothing of it was scored

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        text = (
            f"{self.period}-minute quote history, model {self.model_version}: {self.weeks_scored} weeks "
            f"scored ({self.moments} moments, {self.strikes} strikes), {self.already_scored} already "
            f"scored, {self.not_settled} not settled yet, {self.downloading} still downloading"
        )
        if self.not_forecast:
            first = next(iter(self.not_forecast.values()))
            text += f", {len(self.not_forecast)} not scorable yet (first: {first})"
        return text


def _events(conn: sa.Connection, period: int, series: str) -> list[sa.Row]:
    return list(
        conn.execute(
            sa.text(
                "select m.event_ticker,"
                " bool_or(coalesce(not d.complete, false)) as downloading,"
                " exists (select 1 from quote_score_weeks w where w.event_ticker = m.event_ticker"
                "  and w.period_minutes = :p and w.model_version = :v) as done"
                " from quote_markets m"
                " left join quote_downloads d on d.ticker = m.ticker and d.period_minutes = :p"
                " where starts_with(m.event_ticker, cast(:series as text) || '-')"
                " and exists (select 1 from quote_candles c"
                "  where c.ticker = m.ticker and c.period_minutes = :p)"
                " group by m.event_ticker order by m.event_ticker"
            ),
            {"p": period, "v": MODEL_VERSION, "series": series},
        )
    )


def _store_week(
    engine: sa.Engine,
    event: str,
    period: int,
    calibration_weeks: int,
    scored: Sequence[ScoredWeek],
) -> tuple[int, int] | None:
    """The week and its moments in one transaction; None if another scoring stored it first."""
    rows = [
        {"m": s.moment, "k": k, "model": float(p), "market": float(s.market[k])}
        for s in scored
        for k, p in sorted(s.model.items())
        if k in s.market
    ]
    moments = len({r["m"] for r in rows})
    key = {"e": event, "p": period, "v": MODEL_VERSION}
    with warehouse_errors(f"storing the scores of {event} (rolled back)"), engine.begin() as conn:
        inserted = conn.execute(
            sa.text(
                "insert into quote_score_weeks (event_ticker, period_minutes, model_version,"
                " calibration_weeks, moments) values (:e, :p, :v, :c, :n)"
                " on conflict do nothing returning event_ticker"
            ),
            {**key, "c": calibration_weeks, "n": moments},
        ).first()
        if inserted is None:
            return None
        if rows:
            conn.execute(
                sa.text(
                    "insert into quote_scores (event_ticker, period_minutes, model_version, moment, strike,"
                    " model_yes, market_yes) values (:e, :p, :v, :m, :k, :model, :market)"
                ),
                [{**key, **r} for r in rows],
            )
    return moments, len(rows)


def score_history(
    engine: sa.Engine,
    *,
    period: int = 60,
    now: datetime | None = None,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    workers: int = DEFAULT_WORKERS,
    cache: PointCache | None = None,
) -> HistoryScoring:
    """Score every settled KXTSAW week of the warehouse's quote history not yet scored (see the module's
    doc). ``now`` (default: the clock) decides which weeks have settled; the forecasts are point in time
    whatever it is."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with warehouse_errors("listing the quote history's events"), engine.connect() as conn:
        events = _events(conn, period, SERIES)
    known = first_published_as_of(engine, now)
    days = {c.day for c in known}
    todo: list[tuple[str, date]] = []
    already = not_settled = downloading = 0
    for e in events:
        monday = week_of_event(e.event_ticker)
        if monday is None:
            continue
        if e.done:
            already += 1
        elif not all(monday + timedelta(days=i) in days for i in range(7)) or (
            publication_time(monday + timedelta(days=6)) > now
        ):
            not_settled += 1
        elif e.downloading:
            downloading += 1
        else:
            todo.append((e.event_ticker, monday))
    done = HistoryScoring(period, MODEL_VERSION, 0, 0, 0, already, not_settled, downloading)
    if not todo:
        return done
    tsa = to_series(
        pd.Series([c.passengers for c in known], index=pd.DatetimeIndex([pd.Timestamp(c.day) for c in known]))
    )
    forecaster = Forecaster(
        tsa, calibration_weeks=calibration_weeks, workers=workers, cache=cache or default_cache()
    )
    weeks = moments = strikes = 0
    not_forecast: dict[str, str] = {}
    config = TradingConfig()
    for start in range(0, len(todo), CHUNK_WEEKS):
        chunk = todo[start : start + CHUNK_WEEKS]
        forecaster.warm([monday for _, monday in chunk])
        for event, monday in chunk:
            with warehouse_errors(f"reading the quote history of {event}"), engine.connect() as conn:
                rows = read_history(
                    conn, period=period, series=SERIES, start=monday, end=monday + WEEK, snapshots=False
                )
            out = replay(event_histories(rows, [monday]), [monday], forecaster, config, source=NOTHING)
            reason = "; ".join(s["reason"] for s in out.skipped)
            if not any(k in s.market for s in out.scored for k in s.model):
                # Left unscored, to be tried again: more TSA history may be loaded, or candles.
                not_forecast[event] = reason or "no moment with both the model's and the market's prices"
                continue
            stored = _store_week(engine, event, period, calibration_weeks, out.scored)
            if stored is None:
                already += 1
                continue
            weeks += 1
            moments += stored[0]
            strikes += stored[1]
    return HistoryScoring(
        period, MODEL_VERSION, weeks, moments, strikes, already, not_settled, downloading, not_forecast
    )


def score_warehouse(
    moment: datetime,
    *,
    period: int = 60,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    warehouse_url: str | None = None,
) -> dict[str, Any]:
    """What the ``tsa_market_history`` DAG's last task calls: score the weeks settled by ``moment``."""
    engine = get_engine(warehouse_url)
    migrate(engine)
    return score_history(engine, period=period, now=moment, calibration_weeks=calibration_weeks).as_json()
