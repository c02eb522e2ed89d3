"""The market's weight in ``blend`` and ``guarded``, learned point in time from the warehouse's settled weeks.

What the warehouse knew strictly before the run's ``as_of``:

- the runs' own moments: the first priced run of each event on each UTC day
  (``store.quotes_of_first_daily_runs``), its ``as_of`` the moment; a run's quotes carry both sides at that
  moment: the model's fair probability (``fair_yes``, the forecast after the monotone fix, as the run
  traded it) and the market's best bid and ask (``market_implied.scored_market_probabilities``);
- the quote history's moments (``quote_scores``, written by ``tsabot kalshi history --score`` and the
  ``tsa_market_history`` DAG through ``replay.scores``): for every settled week of downloaded or imported
  candles, at each day's trading moment, the model's point-in-time probability and the market's implied
  one, the same two sides. Where a run and the history both have a moment of an event on the same trading
  day (``core.market.trading_day``), the run's own counts (it is what the run traded); among history
  moments of a day, the latest scored (the newest model version), then the shorter candle;
- the outcomes: the event's Monday-Sunday mean of TSA's *first-published* numbers known by ``as_of``
  (Kalshi's settlement value, strict ``>``), settled when TSA's schedule publishes the Sunday. This covers
  every strike of every priced week, held or not, in every mode; ``trading_settlements`` only has the
  strikes a book held. Outcomes are never read from a store: a score written later cannot leak one.

Point in time means by the run's ``as_of``, not by when rows were written: a backfill run records today
what a past moment saw, and a live run's decide step runs at its ``as_of``, so nothing written later
exists yet when it learns (a done step is never recomputed). A history moment counts only if it came
before ``as_of`` and its week settled before ``as_of``; its model side used only numbers published by it.

``learn_weight`` then scores the linear pool over those weeks, at the run's known-days count (the
moments of the same point in the week; every moment when fewer than ``MIN_SETTLED_WEEKS`` weeks have
one there). The weight a run uses: its params' ``market_weight`` when they pin one, else the learned
weight, else (fewer than ``MIN_SETTLED_WEEKS`` settled weeks) ``DEFAULT_MARKET_WEIGHT``; the choice,
why, and how many of the weeks came from the quote history go into the step's result and every reason.
:class:`ScoredHistory` is read once per run: the weight and the record are both learned from it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.market import event_sunday, trading_day
from tsa_bot.core.publication import event_known_days, publication_time
from tsa_bot.pricing.market_implied import (
    LadderQuote,
    MarketViewError,
    ScoredWeek,
    learn_weight,
    results_from_mean,
    scored_market_probabilities,
)
from tsa_bot.trading import store
from tsa_bot.warehouse.tsa_daily import first_published_as_of

_EVENT = re.compile(r"^[A-Z0-9]+-\d{2}[A-Z]{3}\d{2}$")


@dataclass(frozen=True)
class MarketWeight:
    """The weight a run pools the market at, where it came from (param, learned, default), and why."""

    weight: Decimal
    source: str
    weeks: int
    reason: str
    history_weeks: int = 0  # of ``weeks``, those with moments from the quote history
    known_days: int | None = None  # learned at this known-days count; None: from every moment


def week_of_event(event_ticker: str) -> date | None:
    """The Monday of ``KXTSAW-26FEB15``'s week (2026-02-09); None for a ticker of another shape."""
    if _EVENT.match(event_ticker) is None:  # an event's ticker, not one of its markets'
        return None
    try:
        return event_sunday(event_ticker) - timedelta(days=6)
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class _Moment:
    event_ticker: str
    moment: datetime
    model: dict[int, float]
    market: dict[int, float]
    from_history: bool
    rank: tuple  # lower wins among the moments of one event and trading day


def _run_moments(conn: sa.Connection, as_of: datetime) -> list[_Moment]:
    runs: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in store.quotes_of_first_daily_runs(conn, as_of):
        runs[r["run_id"]].append(r)
    out = []
    for quotes in runs.values():
        model = {int(q["strike"]): float(q["fair_yes"]) for q in quotes if q["fair_yes"] is not None}
        try:
            market = scored_market_probabilities(
                [LadderQuote(int(q["strike"]), q["yes_bid"], q["yes_ask"]) for q in quotes]
            )
        except MarketViewError:
            continue
        out.append(_Moment(quotes[0]["event_ticker"], quotes[0]["moment"], model, market, False, (0,)))
    return out


def _history_moments(conn: sa.Connection, as_of: datetime) -> list[_Moment]:
    """The quote history's scored moments before ``as_of`` (``replay.scores`` wrote them)."""
    rows = conn.execute(
        sa.text(
            "select s.event_ticker, s.period_minutes, s.model_version, s.moment, s.strike, s.model_yes,"
            " s.market_yes, w.scored_at"
            " from quote_scores s"
            " join quote_score_weeks w using (event_ticker, period_minutes, model_version)"
            " where s.moment < :before order by s.moment, s.event_ticker, s.period_minutes, s.strike"
        ),
        {"before": as_of},
    )
    grouped: dict[tuple, _Moment] = {}
    for r in rows:
        key = (r.event_ticker, r.period_minutes, r.model_version, r.moment)
        if key not in grouped:
            rank = (1, -r.scored_at.timestamp(), r.period_minutes, r.model_version)
            grouped[key] = _Moment(r.event_ticker, r.moment, {}, {}, True, rank)
        grouped[key].model[int(r.strike)] = float(r.model_yes)
        grouped[key].market[int(r.strike)] = float(r.market_yes)
    return list(grouped.values())


def _scored(engine: sa.Engine, as_of: datetime) -> list[tuple[ScoredWeek, bool]]:
    """Each scored moment of a week settled before ``as_of``, and whether it came from the quote history."""
    with engine.begin() as conn:
        found = _run_moments(conn, as_of) + _history_moments(conn, as_of)
    if not found:
        return []
    best: dict[tuple[str, date], _Moment] = {}
    for m in found:
        key = (m.event_ticker, trading_day(m.moment))  # one per trading day, daily and hourly candles alike
        if key not in best or m.rank < best[key].rank:
            best[key] = m
    daily = {c.day: c.passengers for c in first_published_as_of(engine, as_of)}
    out: list[tuple[ScoredWeek, bool]] = []
    for m in sorted(best.values(), key=lambda m: (m.moment, m.event_ticker)):
        monday = week_of_event(m.event_ticker)
        if monday is None:
            continue
        week = [monday + timedelta(days=k) for k in range(7)]
        if not all(d in daily for d in week):
            continue  # not complete (or not known) by as_of
        settled_at = publication_time(week[-1])
        if settled_at >= as_of:
            continue
        results = results_from_mean(sum(daily[d] for d in week) / 7, sorted(m.model))
        out.append(
            (ScoredWeek(m.event_ticker, m.moment, settled_at, m.model, m.market, results), m.from_history)
        )
    return out


@dataclass(frozen=True)
class ScoredHistory:
    """What the warehouse knew at ``as_of`` of settled weeks' scored moments, read once: the market weight
    per known-days count and the record (``pricing.record``) are both learned from it."""

    as_of: datetime
    weeks: tuple[ScoredWeek, ...]
    from_history: frozenset[str]  # events with moments from the quote history

    def learned_weight(self, known_days: int | None = None) -> MarketWeight:
        """The market weight learned before ``as_of`` (at ``known_days``, see ``learn_weight``)."""
        choice = learn_weight(self.weeks, self.as_of, known_days=known_days)
        weight = Decimal(repr(choice.market_weight))
        # Of the weeks it learned from (those with a moment at its count, or all), those from the history.
        learned_from = {
            h.event_ticker
            for h in self.weeks
            if choice.known_days is None or event_known_days(h.event_ticker, h.moment) == choice.known_days
        }
        history_weeks = len(learned_from & self.from_history)
        if choice.brier_pooled is None:
            said = (
                f"{history_weeks} of them from the quote history"
                if choice.weeks
                else "no history to learn from"
            )
            return MarketWeight(
                weight, "default", choice.weeks, f"{choice.reason} ({said})", history_weeks, None
            )
        return MarketWeight(
            weight,
            "learned",
            choice.weeks,
            f"{choice.reason}, learned before {self.as_of.isoformat()}; {history_weeks} of them from the"
            " quote history",
            history_weeks,
            choice.known_days,
        )


def scored_history(engine: sa.Engine, as_of: datetime) -> ScoredHistory:
    """Every scored moment of a week settled before ``as_of``, from what the warehouse knew then: the
    runs' own and the quote history's, the run's own where both have an event's trading day
    (``core.market.trading_day``: a daily and an hourly candle of one day are one day)."""
    as_of = as_of.astimezone(UTC)
    scored = _scored(engine, as_of)
    return ScoredHistory(
        as_of, tuple(h for h, _ in scored), frozenset(h.event_ticker for h, hist in scored if hist)
    )


def pinned_weight(
    params: Mapping[str, Any], pinned: Decimal, known_days: int | None = None
) -> MarketWeight | None:
    """The run's params' ``market_weight`` (``pinned``) when they set one; None when it is to be learned."""
    given = params.get("market_weight")
    if given is None or given == "":
        return None
    return MarketWeight(
        pinned, "param", 0, f"market weight {pinned}, pinned by the run's params", 0, known_days
    )


def market_weight(
    history: ScoredHistory, params: Mapping[str, Any], pinned: Decimal, known_days: int | None = None
) -> MarketWeight:
    """The run's params' ``market_weight`` (``pinned``) when they set one; else learned from ``history``
    at ``known_days``."""
    return pinned_weight(params, pinned, known_days) or history.learned_weight(known_days)


def market_weight_for(
    engine: sa.Engine,
    as_of: datetime,
    params: Mapping[str, Any],
    pinned: Decimal,
    known_days: int | None = None,
) -> MarketWeight:
    """:func:`market_weight` from the warehouse at ``as_of``."""
    return market_weight(scored_history(engine, as_of), params, pinned, known_days)
