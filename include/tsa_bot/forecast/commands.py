"""``tsabot backtest``: score the forecaster and the YoY baseline on past weeks."""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from tsa_bot.core.errors import ValidationError, parse_date
from tsa_bot.forecast.backtest import BacktestResult, run_backtest
from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS, MIN_CALIBRATION_WEEKS
from tsa_bot.forecast.data import load_csv
from tsa_bot.forecast.forecaster import DEFAULT_WORKERS, check_workers
from tsa_bot.forecast.pool import POOL_METHODS


def _output_file(text: str, option: str) -> Path:
    """Where ``option`` writes, checked before minutes of computing rather than after."""
    path = Path(text)
    if path.is_dir():
        raise ValidationError(f"{option} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise ValidationError(f"directory for {option} does not exist: {path.parent}")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValidationError(f"{option} {path} cannot be written (permissions)")
    return path


def _cache_dir(text: str) -> PointCache:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise ValidationError(f"--cache-dir {path} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create --cache-dir {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise ValidationError(f"--cache-dir {path} cannot be written (permissions)")
    return PointCache(path)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "backtest",
        help="backtest the weekly-mean forecaster and the YoY baseline",
        description="Forecast every Monday–Sunday week whose Monday is in [start, end], point in time.",
    )
    p.add_argument("--data", required=True, help="CSV with date,passengers")
    p.add_argument("--start", required=True, help="first week's Monday (or any day before it), YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day a week may start on, YYYY-MM-DD")
    p.add_argument("--known-days", type=int, default=0, help="days of the week already known, 0..6")
    p.add_argument("--json", required=True, help="write the result object here")
    p.add_argument("--plot", help="write a PNG chart here")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="parallel processes (default 2)")
    p.add_argument(
        "--calibration-weeks",
        type=int,
        default=DEFAULT_CALIBRATION_WEEKS,
        help="past weeks whose errors set the spread (default %(default)s)",
    )
    p.add_argument(
        "--pool",
        choices=POOL_METHODS,
        help="also score the pool of the model and the YoY baseline (linear or log), its weight per week "
        "learned on the weeks settled before it",
    )
    p.add_argument(
        "--cache-dir",
        help="read and write each week's point forecasts here (a rerun with the same data skips the fits)",
    )
    p.set_defaults(handler=run_backtest_command)


def run_backtest_command(args: argparse.Namespace) -> int:
    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    if start > end:
        raise ValidationError(f"--start {start} is after --end {end}")
    if not 0 <= args.known_days <= 6:
        raise ValidationError(f"--known-days must be 0..6, got {args.known_days}")
    check_workers(args.workers)
    if args.calibration_weeks < MIN_CALIBRATION_WEEKS:
        raise ValidationError(
            f"--calibration-weeks must be at least {MIN_CALIBRATION_WEEKS}, got {args.calibration_weeks}"
        )
    out = _output_file(args.json, "--json")
    plot = _output_file(args.plot, "--plot") if args.plot else None
    cache = _cache_dir(args.cache_dir) if getattr(args, "cache_dir", None) else None
    series = load_csv(args.data)
    began = time.monotonic()
    result = run_backtest(
        series,
        start,
        end,
        known_days=(args.known_days,),
        calibration_weeks=args.calibration_weeks,
        workers=args.workers,
        pool=getattr(args, "pool", None),
        cache=cache,
    )[args.known_days]
    document = result.to_json()
    out.write_text(json.dumps(document, indent=1) + "\n")
    print(format_table(result))
    print(f"{len(result.weeks)} weeks in {time.monotonic() - began:.0f}s; JSON written to {out}")
    if plot:
        from tsa_bot.forecast.plot import plot_backtest

        plot_backtest(result, plot)
        print(f"chart written to {plot}")
    return 0


def _fmt(value: float | None, width: int, pattern: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(width + len(suffix))
    return (format(value, pattern) + suffix).rjust(width + len(suffix))


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def format_table(result: BacktestResult) -> str:
    lines = [
        f"{'week':<10} {'actual':>10} {'q10':>10} {'q50':>10} {'q90':>10} {'err%':>6} {'base%':>6}",
    ]
    for w in result.weeks:
        actual = w.point.actual_mean
        err = None if actual is None else 100 * (w.model.mean / actual - 1)
        base = None if actual is None else 100 * (w.baseline.mean / actual - 1)
        q10, q50, q90 = (w.model.quantile(q) for q in (0.1, 0.5, 0.9))
        lines.append(
            f"{w.model.week_start.isoformat():<10} {_fmt(actual, 10, ',.0f')} "
            f"{q10:>10,.0f} {q50:>10,.0f} {q90:>10,.0f} {_fmt(err, 6, '+.2f')} {_fmt(base, 6, '+.2f')}"
        )
    summary = result.summary()
    lines.append("")
    lines.append(
        f"{'known days ' + str(result.known_days):<16} {'MAPE':>7} {'cov80':>6} {'Brier':>7} {'logloss':>8}"
    )
    rows = [("model", summary), ("YoY baseline", summary["baseline"])]
    if "pool" in summary:
        rows.append((f"pool ({summary['pool']['method']})", summary["pool"]))
    for name, s in rows:
        lines.append(
            f"{name:<16} {_fmt(_pct(s['mape']), 6, '.2f', '%')} {_fmt(_pct(s['coverage80']), 5, '.0f', '%')} "
            f"{_fmt(s['brier'], 7, '.4f')} {_fmt(s['log_loss'], 8, '.4f')}"
        )
    if "pool" in summary and summary["pool"]["mean_weight"] is not None:
        lines.append(
            f"pool: mean baseline weight {summary['pool']['mean_weight']:.2f}, "
            f"default weight in {summary['pool']['default_weeks']} of {len(result.weeks)} weeks"
        )
    return "\n".join(lines)
