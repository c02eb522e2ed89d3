"""After a week is complete: score its forecasts, and settle the paper book on first-published numbers.

Kalshi settles KXTSAW on the Monday-Sunday mean of the numbers as TSA first published them, with a
strict "above": a strike pays YES only when the mean is greater than it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from tsa_bot.core import scoring
from tsa_bot.core.market import market_result
from tsa_bot.core.publication import publication_time
from tsa_bot.forecast.store import load_forecast, load_strike_probabilities
from tsa_bot.warehouse.tsa_daily import first_published_as_of


def week_actual(engine: sa.Engine, week_start: date, as_of: datetime) -> float | None:
    """The week's settlement value, or None while any of its seven days is unpublished at ``as_of``."""
    days = {r.day: r.passengers for r in first_published_as_of(engine, as_of)}
    week = [week_start + timedelta(days=k) for k in range(7)]
    if not all(d in days for d in week):
        return None
    return sum(days[d] for d in week) / 7


def weeks_to_settle(engine: sa.Engine, as_of: datetime) -> list[date]:
    """Weeks with a forecast or a paper trade, complete at ``as_of``, and not yet fully settled."""
    with engine.connect() as conn:
        weeks = conn.execute(
            sa.text(
                "select distinct f.week_start from forecasts f"
                " left join forecast_scores s on s.forecast_id = f.id where s.forecast_id is null"
                " order by 1"
            )
        ).scalars()
        pending = [w for w in weeks if publication_time(w + timedelta(days=6)) <= as_of]
    return pending


def score_week(engine: sa.Engine, week_start: date, actual_mean: float) -> int:
    """Score every unscored forecast of the week; returns how many were scored."""
    with engine.connect() as conn:
        ids = (
            conn.execute(
                sa.text(
                    "select f.id from forecasts f left join forecast_scores s on s.forecast_id = f.id"
                    " where f.week_start = :w and s.forecast_id is null"
                ),
                {"w": week_start},
            )
            .scalars()
            .all()
        )
    for forecast_id in ids:
        forecast = load_forecast(engine, forecast_id)
        score = scoring.score_forecast(
            load_strike_probabilities(engine, forecast_id),
            actual_mean,
            forecast.mean,
            forecast.quantile(0.1),
            forecast.quantile(0.9),
        )
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "insert into forecast_scores (forecast_id, week_start, actual_mean, abs_pct_error,"
                    " in_80_interval, brier, log_loss) values (:id, :w, :a, :e, :i, :b, :l)"
                    " on conflict (forecast_id) do nothing"
                ),
                {
                    "id": forecast_id,
                    "w": week_start,
                    "a": actual_mean,
                    "e": score.abs_pct_error,
                    "i": score.in_80_interval,
                    "b": score.brier,
                    "l": score.log_loss,
                },
            )
    return len(ids)


def settle_paper_event(engine: sa.Engine, event_ticker: str, actual_mean: float) -> dict:
    """P&L of the paper book's positions in one event, from the first-published weekly mean."""
    from tsa_bot.trading.book import Outcome, settle_book

    with engine.begin() as conn:
        strikes = dict(
            conn.execute(
                sa.text(
                    "select distinct ticker, strike from trading_snapshots s"
                    " join trading_runs r using (run_id) where r.event_ticker = :e"
                ),
                {"e": event_ticker},
            ).all()
        )
        value = Decimal(str(round(actual_mean, 2)))
        outcomes = {t: Outcome(market_result(actual_mean, k), value) for t, k in strikes.items()}
        settled, total = settle_book(conn, "paper", event_ticker, outcomes)
    return {"event_ticker": event_ticker, "positions_settled": settled, "pnl": str(total)}


def settle_completed_weeks(engine: sa.Engine, as_of: datetime) -> dict:
    """Score and settle every complete week not yet done. Idempotent: a re-run finds nothing left."""
    from tsa_bot.core.market import event_ticker_for_week

    results = []
    for week_start in weeks_to_settle(engine, as_of):
        actual = week_actual(engine, week_start, as_of)
        if actual is None:
            continue
        scored = score_week(engine, week_start, actual)
        paper = settle_paper_event(engine, event_ticker_for_week(week_start), actual)
        results.append(
            {"week_start": week_start.isoformat(), "actual": round(actual), "scored": scored, **paper}
        )
    return {"weeks": results}
