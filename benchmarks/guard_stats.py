"""How often ``guarded``'s disagreement guard acts, and on what numbers, at every moment a replay trades.

    PYTHONPATH=include .venv/bin/python benchmarks/guard_stats.py --cache-dir /tmp/fcache  # sim's 2025
    PYTHONPATH=include .venv/bin/python benchmarks/guard_stats.py --real-week             # KXTSAW-26MAR22

For each week and trading moment it builds exactly what the replay's ``guarded`` sees (the model's strike
probabilities at the quoted strikes, the market's implied distribution of the quotes) and asks the guard
the policy calls (``trading.policies.guard_verdict``), then prints the distribution of the guard's
statistic, how often it acts, and the moments it acted at (with the week's true mean, to say whether the
market or the model was right). ``--quotes`` reuses the year's generated quotes (as ``replay_year.py``
writes them), so both read the same market.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import numpy as np
from replay_real_week import MONDAY, REAL_WEEK, made_up_tsa
from replay_year import DEFAULT_DATA, simulated_quotes

from tsa_bot.core.market import mondays_between
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.data import load_csv
from tsa_bot.kalshi_sim.crowd import PRESETS
from tsa_bot.pricing.market_implied import MarketViewError
from tsa_bot.pricing.quotes import price_strikes
from tsa_bot.quotes.interchange import read_quotes_file
from tsa_bot.replay.forecasts import Forecaster, known_days
from tsa_bot.replay.market import event_histories, weekly_mean
from tsa_bot.trading.policies import guard_verdict, market_view


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--start", default="2024-12-30")
    parser.add_argument("--end", default="2025-12-22")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--crowd", choices=sorted(PRESETS), default="new")
    parser.add_argument("--quotes", help="read (or write) the generated quotes CSV here")
    parser.add_argument("--real-week", action="store_true", help="the shared real week, made-up TSA")
    parser.add_argument("--cache-dir", help="the forecast cache (as replay_year.py's)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

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

    seen: list[tuple] = []
    for monday in weeks:
        history = histories.get(monday)
        if history is None:
            continue
        forecasts = forecaster.week(monday)
        truth = weekly_mean(series, monday)
        for moment in history.moments():
            k = known_days(series, monday, moment.at)
            found = forecasts.model.get(k)
            if found is None:
                continue
            snapshot = history.snapshot(moment)
            quotes = price_strikes(found.strike_probabilities([b.strike for b in snapshot.books]), snapshot)
            try:
                market = market_view(quotes)
            except MarketViewError:
                continue
            verdict = guard_verdict(quotes, market)
            if verdict is None:
                continue
            seen.append((monday, moment.day, k, verdict, market.median, found.quantile(0.5), truth))

    stats = np.array([abs(s[3].z) for s in seen])
    actions = [s[3].action for s in seen]
    print(f"{len(seen)} moments over {len({s[0] for s in seen})} weeks")
    levels = np.quantile(stats, [0.5, 0.9, 0.95, 0.99, 1])
    print("|z| quantiles 50/90/95/99/max:", " ".join(f"{q:.2f}" for q in levels))
    for k in sorted({s[2] for s in seen}):
        at = np.array([abs(s[3].z) for s in seen if s[2] == k])
        print(
            f"  k={k}: {at.size} moments, median |z| {np.median(at):.2f}, max {at.max():.2f}, "
            f"above 3: {int((at > 3).sum())}"
        )
    for action in sorted(set(actions)):
        print(f"{action}: {actions.count(action)} moments ({actions.count(action) / len(seen):.1%})")
    print(f"weeks with an act: {len({s[0] for s in seen if s[3].action != 'trade'})}")
    for monday, day, k, verdict, _, _, truth in seen:
        if verdict.action != "trade":
            true = "-" if truth is None else f"{truth / 1e6:.3f} M"
            print(f"  {monday} {day} k={k}: {verdict.action}, true mean {true}; {verdict.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
