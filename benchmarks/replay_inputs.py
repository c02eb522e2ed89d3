"""The market a benchmark replays over, and the forecaster beside it: the simulator's year (``replay_year``'s
quotes) or the shared real week (``replay_real_week``'s, with its made-up TSA numbers), from one set of
command-line arguments. ``guard_stats.py`` and ``market_pool_choice.py`` read their moments from here."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
from replay_real_week import MONDAY, REAL_WEEK, made_up_tsa
from replay_year import DEFAULT_DATA, simulated_quotes

from tsa_bot.core.market import mondays_between
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.data import load_csv
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.kalshi_sim.crowd import PRESETS
from tsa_bot.pricing.market_implied import ImpliedDistribution, MarketViewError
from tsa_bot.pricing.quotes import StrikeQuote, price_strikes
from tsa_bot.quotes.interchange import read_quotes_file
from tsa_bot.replay.forecasts import Forecaster, known_days
from tsa_bot.replay.market import EventHistory, event_histories, weekly_mean
from tsa_bot.trading.policies import market_view


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--start", default="2024-12-30")
    parser.add_argument("--end", default="2025-12-22")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--crowd", choices=sorted(PRESETS), default="new")
    parser.add_argument("--quotes", help="read (or write) the generated quotes CSV here")
    parser.add_argument("--real-week", action="store_true", help="the shared real week, made-up TSA")
    parser.add_argument("--cache-dir", help="the forecast cache (as replay_year.py's)")
    parser.add_argument("--workers", type=int, default=2)


@dataclass(frozen=True)
class ReplayInputs:
    series: pd.Series
    weeks: list[dt.date]
    histories: dict[dt.date, EventHistory]
    forecaster: Forecaster  # warmed: every week with quotes is forecast


def load(args: argparse.Namespace) -> ReplayInputs:
    if args.real_week:
        series, rows = made_up_tsa(), read_quotes_file(REAL_WEEK)
        start = end = MONDAY
    else:
        series = load_csv(args.data)
        start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
        rows = simulated_quotes(series, start, end, args.seed, args.crowd, args.quotes)
    weeks = mondays_between(start, end)
    histories = event_histories(rows, weeks)
    cache = PointCache(args.cache_dir) if args.cache_dir else None
    forecaster = Forecaster(series, workers=args.workers, cache=cache)
    forecaster.warm([w for w in weeks if w in histories])
    return ReplayInputs(series, weeks, histories, forecaster)


@dataclass(frozen=True)
class TradingMoment:
    """What a policy sees at one trading moment: the forecast at the moment's known days, the strikes it
    priced against the snapshot, and the market's implied distribution of that snapshot."""

    at: dt.datetime
    day: str
    known_days: int
    forecast: WeekForecast
    quotes: list[StrikeQuote]
    market: ImpliedDistribution


def trading_weeks(inputs: ReplayInputs) -> Iterator[tuple[dt.date, float | None, list[TradingMoment]]]:
    """Each week with quotes, in order: its Monday, its true mean (None if not complete), and its moments
    with a forecast and a readable market, as the replay's ``guarded``/``blend`` see them."""
    for monday in inputs.weeks:
        history = inputs.histories.get(monday)
        if history is None:
            continue
        forecasts = inputs.forecaster.week(monday)
        moments = []
        for moment in history.moments():
            k = known_days(inputs.series, monday, moment.at)
            found = forecasts.model.get(k)
            if found is None:
                continue
            snapshot = history.snapshot(moment)
            quotes = price_strikes(found.strike_probabilities([b.strike for b in snapshot.books]), snapshot)
            try:
                market = market_view(quotes)
            except MarketViewError:
                continue
            moments.append(TradingMoment(moment.at, moment.day, k, found, quotes, market))
        yield monday, weekly_mean(inputs.series, monday), moments
