"""Wall time of sizing one event's ladder as one bet: 21 strikes, 5,000 joint samples, three-level books.

Three markets around one forecast: close to the model (little to buy), shifted by one model standard
deviation (many legs worth buying, limits binding), and a range (both tails offered cheaply).

    PYTHONPATH=include .venv/bin/python benchmarks/ladder_bench.py --repeat 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from decimal import Decimal
from statistics import NormalDist

import numpy as np

from tsa_bot.kalshi.models import Level
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.ladder import LadderLimits, LadderStrike, plan_ladder

STRIKES = [2_000_000 + 40_000 * i for i in range(21)]
LIMITS = LadderLimits(Decimal(100), Decimal(50), Decimal(200), Decimal(200), Decimal(500))


def _cents(p: float) -> Decimal:
    return Decimal(min(max(round(p * 100), 1), 99)) / 100


def ladder(center: float, sd: float, spread: float = 0.03) -> list[LadderStrike]:
    crowd = NormalDist(center, sd)
    out = []
    for k in STRIKES:
        p = 1 - crowd.cdf(k)
        yes, no = p + spread / 2, 1 - p + spread / 2
        out.append(
            LadderStrike(
                f"KXTSAW-26FEB15-A{k / 1e6:.2f}",
                k,
                tuple(Level(_cents(yes + 0.02 * i), Decimal(20 * (i + 1))) for i in range(3)),
                tuple(Level(_cents(no + 0.02 * i), Decimal(20 * (i + 1))) for i in range(3)),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="timed calls per market")
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()

    samples = np.random.default_rng(2026).normal(2.40e6, 0.05e6, args.samples)
    range_bet = ladder(2.40e6, 0.05e6)
    low, high = STRIKES.index(2_320_000), STRIKES.index(2_480_000)
    cheap = (Level(Decimal("0.70"), Decimal(100)),)
    range_bet[low] = LadderStrike(range_bet[low].ticker, STRIKES[low], cheap, range_bet[low].no_asks)
    range_bet[high] = LadderStrike(range_bet[high].ticker, STRIKES[high], range_bet[high].yes_asks, cheap)
    markets = {
        "close": ladder(2.41e6, 0.06e6),
        "shifted": ladder(2.35e6, 0.05e6),
        "range": range_bet,
    }
    results = {}
    for name, strikes in markets.items():

        def run(strikes=strikes):
            return plan_ladder(
                samples,
                strikes,
                FeeSchedule(),
                bankroll=Decimal(1000),
                kelly_fraction=Decimal("0.25"),
                limits=LIMITS,
            )

        plan = run()  # warm-up
        times, cpu = [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            run()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        results[name] = {
            "median_ms": round(statistics.median(times) * 1000, 2),
            "max_ms": round(max(times) * 1000, 2),
            # CPU time: what the call costs when the machine's cores are shared with other work.
            "median_cpu_ms": round(statistics.median(cpu) * 1000, 2),
            "orders": len(plan.orders),
            "contracts": int(sum(o.count for o in plan.orders)),
            "growth_nats": round(plan.growth, 5),
        }
    print(json.dumps({"strikes": len(STRIKES), "samples": args.samples, "markets": results}, indent=2))


if __name__ == "__main__":
    main()
