"""Linear or logarithmic: which pool of the model and the market scores better, per known-days count.

    PYTHONPATH=include:benchmarks .venv/bin/python benchmarks/market_pool_choice.py --cache-dir /tmp/fc
    PYTHONPATH=include:benchmarks .venv/bin/python benchmarks/market_pool_choice.py --real-week \
        --cache-dir /tmp/fcache-real

At every trading moment a replay sees (the simulator's 2025 with the new crowd, or the shared real week), it
builds what ``blend`` pools: the model's samples as the policy reads them from its strike probabilities
(``policies.samples_from_probabilities``) and the market's implied distribution of the quotes
(``policies.market_view``), and pools the two on the distribution of the weekly mean, both ways:

- linear: ``market_implied.pooled_samples`` (what the bot trades on);
- logarithmic: ``forecast.pool.log_pool`` (precision-weighted, as the forecast pool's log option).

Each way's weight is learned point in time per known-days count exactly as the bot learns its own (the grid
weight of least Brier over the weeks settled before the moment, at that count; 0.5 with fewer than 8 such
weeks), and the pool at that weight is scored on the two-sided strikes of the moment. Printed per count:
the Brier score of the model, the market and each pool (out of sample), and each pool's mean weight.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import numpy as np
import replay_inputs

from tsa_bot.core.market import yes_wins
from tsa_bot.core.publication import known_days_at
from tsa_bot.forecast.pool import log_pool
from tsa_bot.pricing.market_implied import (
    DEFAULT_MARKET_WEIGHT,
    MIN_SETTLED_WEEKS,
    WEIGHT_GRID,
    ImpliedDistribution,
    pooled_samples,
)
from tsa_bot.trading.policies import samples_from_probabilities

METHODS = ("linear", "log")


def pooled(method: str, model: np.ndarray, market: ImpliedDistribution, weight: float) -> np.ndarray:
    if method == "linear":
        return pooled_samples(model, market, weight)
    if weight == 0:
        return np.sort(model)
    return log_pool(np.sort(model), market.samples(model.size), weight)


def survival(samples: np.ndarray, strike: int) -> float:
    return float(samples.size - np.searchsorted(samples, strike, side="right")) / samples.size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    replay_inputs.add_arguments(parser)
    args = parser.parse_args(argv)
    inputs = replay_inputs.load(args)

    # Per (method, count, grid weight): each settled week's summed squared error and strikes, in week order.
    past: dict[tuple[str, int, float], list[tuple[float, int]]] = defaultdict(list)
    scores: dict[tuple[str, int], list[float]] = defaultdict(list)  # out of sample, per strike
    chosen: dict[tuple[str, int], list[float]] = defaultdict(list)
    for monday, truth, moments in replay_inputs.trading_weeks(inputs):
        if truth is None:
            continue
        week_sums: dict[tuple[str, int, float], list[float]] = defaultdict(lambda: [0.0, 0])
        for moment in moments:
            quotes, market = moment.quotes, moment.market
            fair = {q.strike: float(q.fair_yes) for q in quotes if q.fair_yes is not None}
            model = samples_from_probabilities(fair)
            scored = [q.strike for q in quotes if q.yes_bid is not None and q.yes_ask is not None]
            if not scored:
                continue
            k = known_days_at(monday, moment.at)
            outcome = {s: 1.0 if yes_wins(truth, s) else 0.0 for s in scored}
            mids = {q.strike: float((q.yes_bid + q.yes_ask) / 2) for q in quotes if q.strike in outcome}
            scores[("model", k)] += [(fair[s] - outcome[s]) ** 2 for s in scored]
            scores[("market", k)] += [(mids[s] - outcome[s]) ** 2 for s in scored]
            for method in METHODS:
                if len(past[(method, k, WEIGHT_GRID[0])]) >= MIN_SETTLED_WEEKS:
                    totals = {w: sum(e for e, _ in past[(method, k, w)]) for w in WEIGHT_GRID}
                    weight = min(WEIGHT_GRID, key=lambda w: (totals[w], abs(w - DEFAULT_MARKET_WEIGHT)))
                else:
                    weight = DEFAULT_MARKET_WEIGHT
                chosen[(method, k)].append(weight)
                for w in WEIGHT_GRID:
                    samples = pooled(method, model, market, w)
                    errors = [(survival(samples, s) - outcome[s]) ** 2 for s in scored]
                    week_sums[(method, k, w)][0] += sum(errors)
                    week_sums[(method, k, w)][1] += len(errors)
                    if w == weight:
                        scores[(method, k)] += errors
        # The week settles: its moments join what later weeks learn from.
        for key, (total, n) in week_sums.items():
            past[key].append((total, n))

    print(
        f"{'k':>2} {'moments':>8} {'Brier model':>12} {'market':>8} {'linear':>8} {'log':>8}  weight lin/log"
    )
    for k in sorted({k for _, k in scores}):
        cells = [np.mean(scores[(name, k)]) for name in ("model", "market", *METHODS)]
        weights = [np.mean(chosen[(m, k)]) for m in METHODS]
        print(
            f"{k:>2} {len(chosen[('linear', k)]):>8} {cells[0]:>12.4f} {cells[1]:>8.4f} {cells[2]:>8.4f}"
            f" {cells[3]:>8.4f}  {weights[0]:.2f}/{weights[1]:.2f}"
        )
    every = {
        name: np.mean([x for (n, _), v in scores.items() if n == name for x in v])
        for name in ("model", "market", *METHODS)
    }
    print("every count:", ", ".join(f"{name} {value:.4f}" for name, value in every.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
