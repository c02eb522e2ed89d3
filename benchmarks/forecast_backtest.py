"""Full backtest of the weekly-mean forecaster against the YoY baseline, known days 0..6.

    .venv/bin/python benchmarks/forecast_backtest.py     # the 52 complete weeks 2024-12-30 .. 2025-12-22
    .venv/bin/python benchmarks/forecast_backtest.py --start 2024-01-01 --end 2024-12-31   # tuning year
    .venv/bin/python benchmarks/forecast_backtest.py --pool linear log --cache-dir /tmp/fcache   # + the pools

One set of Prophet fits per week (one per trend setting) serves all seven known-days counts; the fits only
see rows before the Monday. Model choices were made on 2024, with 2023 as a check; 2025 is the report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from tsa_bot.forecast.backtest import run_backtest
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.data import load_csv
from tsa_bot.forecast.forecaster import DEFAULT_WORKERS
from tsa_bot.forecast.model import MODEL_VERSION
from tsa_bot.forecast.pool import POOL_METHODS

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tsa_daily_2019_2025.csv"


def _row(s: dict) -> str:
    return f"{100 * s['mape']:>5.2f}% {100 * s['coverage80']:>4.0f}% {s['brier']:>7.4f} {s['log_loss']:>7.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--start", default="2024-12-30")
    parser.add_argument("--end", default="2025-12-22")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--calibration-weeks", type=int, default=DEFAULT_CALIBRATION_WEEKS)
    parser.add_argument("--json", help="also write every known-days result object here")
    parser.add_argument(
        "--pool", nargs="*", choices=POOL_METHODS, default=[], help="also score these pools, one table each"
    )
    parser.add_argument("--cache-dir", help="point-forecast cache (a rerun skips the Prophet fits)")
    args = parser.parse_args(argv)

    series = load_csv(args.data)
    cache = PointCache(args.cache_dir) if args.cache_dir else None
    began = time.monotonic()
    runs = {
        method: run_backtest(
            series,
            dt.date.fromisoformat(args.start),
            dt.date.fromisoformat(args.end),
            known_days=range(7),
            calibration_weeks=args.calibration_weeks,
            workers=args.workers,
            pool=method,
            cache=cache,
        )
        for method in (args.pool or [None])
    }
    results = next(iter(runs.values()))
    elapsed = time.monotonic() - began

    header = (
        f"{'known':>5} {'weeks':>5} | {'MAPE':>6} {'cov80':>5} {'Brier':>7} {'logloss':>7} |"
        f" {'b.MAPE':>6} {'b.cov':>5} {'b.Brier':>7} {'b.logl':>7}"
    )
    print(f"backtest {args.start}..{args.end}, calibration {args.calibration_weeks} weeks")
    print(f"model {MODEL_VERSION}")
    print(header)
    print("-" * len(header))
    for k, result in sorted(results.items()):
        s = result.summary()
        b = s["baseline"]
        print(f"{k:>5} {s['weeks']:>5} | {_row(s)} | {_row(b)}")
    for method, pooled in runs.items():
        if method is None:
            continue
        print(f"\npool ({method}) vs model alone; w = mean baseline weight, d = weeks at the default weight")
        head = (
            f"{'known':>5} | {'MAPE':>6} {'cov80':>5} {'Brier':>7} {'logloss':>7} |"
            f" {'p.MAPE':>6} {'p.cov':>5} {'p.Brier':>7} {'p.logl':>7} | {'w':>4} {'d':>3} | wins"
        )
        print(head)
        print("-" * len(head))
        for k, result in sorted(pooled.items()):
            s, p = result.summary(), result.summary()["pool"]
            wins = sum(p[m] < s[m] for m in ("mape", "brier", "log_loss")) + (
                abs(p["coverage80"] - 0.8) < abs(s["coverage80"] - 0.8)
            )
            print(
                f"{k:>5} | {_row(s)} | {_row(p)} | {p['mean_weight']:>4.2f} {p['default_weeks']:>3}"
                f" | {wins}/4"
            )
    print(f"wall time {elapsed:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps({k: r.to_json() for k, r in results.items()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
