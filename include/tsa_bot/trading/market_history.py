"""The market's weight in ``blend`` and ``guarded``, learned point in time from the warehouse's settled weeks.

What the warehouse knew strictly before the run's ``as_of``:

- the moments: the first priced run of each event on each UTC day (``store.quotes_of_first_daily_runs``),
  its ``as_of`` the moment; a run's quotes carry both sides at that moment: the model's fair probability
  (``fair_yes``, the forecast after the monotone fix, as the run traded it) and the market's best bid and
  ask (``market_implied.implied_probabilities``);
- the outcomes: the event's Monday-Sunday mean of TSA's *first-published* numbers known by ``as_of``
  (Kalshi's settlement value, strict ``>``), settled when TSA's schedule publishes the Sunday. This covers
  every strike of every priced week, held or not, in every mode; ``trading_settlements`` only has the
  strikes a book held.

Point in time means by the run's ``as_of``, not by when rows were written: a backfill run records today
what a past moment saw, and a live run's decide step runs at its ``as_of``, so nothing written later
exists yet when it learns (a done step is never recomputed).

``learn_weight`` then scores the linear pool over those weeks. The weight a run uses: its params'
``market_weight`` when they pin one, else the learned weight, else (fewer than ``MIN_SETTLED_WEEKS``
settled weeks) ``DEFAULT_MARKET_WEIGHT``; the choice and why go into the step's result and every reason.
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

from tsa_bot.market import MONTHS
from tsa_bot.pricing.market_implied import (
    LadderQuote,
    MarketViewError,
    ScoredWeek,
    implied_probabilities,
    learn_weight,
    results_from_mean,
)
from tsa_bot.publication import publication_time
from tsa_bot.trading import store
from tsa_bot.warehouse.tsa_daily import first_published_as_of

_EVENT = re.compile(r"^[A-Z0-9]+-(\d{2})([A-Z]{3})(\d{2})$")


@dataclass(frozen=True)
class MarketWeight:
    """The weight a run pools the market at, where it came from (param, learned, default), and why."""

    weight: Decimal
    source: str
    weeks: int
    reason: str


def week_of_event(event_ticker: str) -> date | None:
    """The Monday of ``KXTSAW-26FEB15``'s week (2026-02-09); None for a ticker of another shape."""
    m = _EVENT.match(event_ticker)
    if m is None or m.group(2) not in MONTHS:
        return None
    try:
        sunday = date(2000 + int(m.group(1)), MONTHS.index(m.group(2)) + 1, int(m.group(3)))
    except ValueError:
        return None
    return sunday - timedelta(days=6)


def scored_history(engine: sa.Engine, as_of: datetime) -> list[ScoredWeek]:
    """Every scored moment of a week settled before ``as_of``, from what the warehouse knew then."""
    with engine.begin() as conn:
        rows = store.quotes_of_first_daily_runs(conn, as_of)
    if not rows:
        return []
    daily = {c.day: c.passengers for c in first_published_as_of(engine, as_of)}
    runs: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        runs[r["run_id"]].append(r)
    out: list[ScoredWeek] = []
    for quotes in runs.values():
        event, moment = quotes[0]["event_ticker"], quotes[0]["moment"]
        monday = week_of_event(event)
        if monday is None:
            continue
        week = [monday + timedelta(days=k) for k in range(7)]
        if not all(d in daily for d in week):
            continue  # not complete (or not known) by as_of
        settled_at = publication_time(week[-1])
        if settled_at >= as_of:
            continue
        model = {int(q["strike"]): float(q["fair_yes"]) for q in quotes if q["fair_yes"] is not None}
        try:
            market = implied_probabilities(
                [LadderQuote(int(q["strike"]), q["yes_bid"], q["yes_ask"]) for q in quotes]
            )
        except MarketViewError:
            continue
        results = results_from_mean(sum(daily[d] for d in week) / 7, sorted(model))
        out.append(ScoredWeek(event, moment, settled_at, model, market, results))
    return out


def market_weight_for(
    engine: sa.Engine, as_of: datetime, params: Mapping[str, Any], pinned: Decimal
) -> MarketWeight:
    """The run's params' ``market_weight`` (``pinned``) when they set one; else learned before ``as_of``."""
    given = params.get("market_weight")
    if given is not None and given != "":
        return MarketWeight(pinned, "param", 0, f"market weight {pinned}, pinned by the run's params")
    as_of = as_of.astimezone(UTC)
    choice = learn_weight(scored_history(engine, as_of), as_of)
    weight = Decimal(repr(choice.market_weight))
    if choice.brier_pooled is None:
        return MarketWeight(weight, "default", choice.weeks, f"{choice.reason} (no history to learn from)")
    return MarketWeight(
        weight, "learned", choice.weeks, f"{choice.reason}, learned before {as_of.isoformat()}"
    )
