"""Time ``tsabot replay`` over a generated year of weekly KXTSAW events, every day, from a cold cache.

    PYTHONPATH=include .venv/bin/python benchmarks/replay_year.py                 # 2025, policy kelly
    PYTHONPATH=include .venv/bin/python benchmarks/replay_year.py --policies kelly ladder blend guarded
    PYTHONPATH=include .venv/bin/python benchmarks/replay_year.py --crowd old   # the crowd before issue 19

The quotes are the simulator's crowd market over the TSA data (``kalshi_sim.history_quote_rows``: the
rows ``tsabot kalshi history`` + ``--export`` would download from ``tsabot simulator`` hosting the same
``HistorySeed``), as daily candles. The first policy runs on an empty forecast cache (unless --cache-dir
holds one) and is the timed figure (wall, and CPU of this process and its forecast workers: the machine's
two cores are shared); the others reuse the cache. Prints each policy's row beside the YoY baseline's and
doing nothing's.

``--crowd new`` (the default, as ``tsabot simulator`` hosts) is the crowd that reads the public YoY
forecast and quotes in Kalshi's shapes; ``--crowd old`` the independent crowd before it
(``CrowdParams.independent()``), to report the two side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from tsa_bot.forecast.cache import PointCache
from tsa_bot.forecast.data import load_csv
from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows, truth_of
from tsa_bot.kalshi_sim.crowd import PRESETS
from tsa_bot.pricing.execution import Execution
from tsa_bot.quotes.interchange import QuoteRow, read_quotes_file, write_quotes_file
from tsa_bot.replay.commands import run_replay
from tsa_bot.replay.evidence import verdict
from tsa_bot.trading.config import TradingConfig, parse_policy

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "tsa_daily_2019_2025.csv"


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def summary_row(name: str, s: dict) -> str:
    """One replay summary as a line of the benchmarks' tables (with maker's fill rate, adverse selection)."""
    brier = (
        "-"
        if s["brier_model"] is None
        else f"{s['brier_model']:.4f} / {s.get('brier_pool') or 0:.4f} / {s['brier_market']:.4f}"
    )
    ci = "-" if s.get("pnl_ci90") is None else "[{:+.0f}, {:+.0f}]".format(*s["pnl_ci90"])
    cents = "-" if s.get("cents_per_contract") is None else f"{s['cents_per_contract']:.2f}"
    maker = ""
    if s.get("fill_rate") is not None:
        adverse = s.get("adverse_selection")
        maker = f"  fill {s['fill_rate']:.0%}, adverse {'-' if adverse is None else f'{adverse * 100:+.2f}¢'}"
    return (
        f"{name:<28}{s['pnl']:>10.2f}{ci:>18}{cents:>8}{s['trades']:>8}{s['contracts']:>10.0f}"
        f"{s['max_drawdown']:>10.2f}{s['fees']:>9.2f}   {brier} ({s['strikes_scored']}){maker}"
    )


HEAD = (
    f"{'':<28}{'P&L':>10}{'P&L 90% CI':>18}{'¢/ctr':>8}{'trades':>8}{'contracts':>10}{'max DD':>10}"
    f"{'fees':>9}   Brier model / pool traded / market (strikes scored)"
)


def brier_by_day(s: dict) -> str:
    """The Brier score of the pool traded against the market's, day by day (two-sided strikes)."""
    cells = [
        f"{day} {d['brier_pool']:.4f}/{d['brier_market']:.4f}"
        for day, d in s["by_day"].items()
        if d.get("brier_pool") is not None
    ]
    return "    Brier pool/market by day: " + ("  ".join(cells) or "-")


def simulated_quotes(
    series: pd.Series, start: dt.date, end: dt.date, seed: int, crowd: str, quotes: str | None
) -> list[QuoteRow]:
    """The simulator crowd's quote rows over ``series`` from ``start`` to ``end``; with ``quotes``, read
    from that CSV if it exists, else generated and written there (so other benchmarks read the same)."""
    path = Path(quotes) if quotes else None
    if path is not None and path.exists():
        return read_quotes_file(path)
    rows = history_quote_rows(
        HistorySeed(start, end, truth=truth_of(series), seed=seed, params=PRESETS[crowd]())
    )
    if path is not None:
        write_quotes_file(rows, path)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--start", default="2024-12-30")
    parser.add_argument("--end", default="2025-12-22")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--policies", nargs="+", default=["kelly"])
    parser.add_argument("--crowd", choices=sorted(PRESETS), default="new", help="the simulator's crowd")
    parser.add_argument("--executions", nargs="+", choices=[e.value for e in Execution], default=["taker"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quotes", help="write (or, if it exists, read) the generated quotes CSV here")
    parser.add_argument("--json-dir", help="write each policy's replay JSON here")
    parser.add_argument("--cache-dir", help="keep the forecast cache here (default: a new, empty one)")
    args = parser.parse_args(argv)

    series = load_csv(args.data)
    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    rows = simulated_quotes(series, start, end, args.seed, args.crowd, args.quotes)
    print(
        f"{len(rows)} quote rows, {len({r.event_ticker for r in rows})} events, {start} .. {end}, "
        f"crowd {args.crowd}"
    )
    print(HEAD)
    with tempfile.TemporaryDirectory(prefix="replay-cache-") as scratch:
        cache_dir = args.cache_dir or scratch
        first = True
        for policy in args.policies:
            for execution in map(Execution, args.executions):
                config = replace(TradingConfig(), policy=parse_policy(policy, "--policies"))
                cold = "cold cache" if not any(Path(cache_dir).glob("*.json")) else "warm cache"
                began, cpu = time.monotonic(), _cpu()
                doc = run_replay(
                    series,
                    rows,
                    start,
                    end,
                    config=config,
                    execution=execution,
                    workers=args.workers,
                    cache=PointCache(cache_dir),
                )
                wall, used = time.monotonic() - began, _cpu() - cpu
                name = policy if args.executions == ["taker"] else f"{policy} {execution}"
                if args.json_dir:
                    Path(args.json_dir, f"replay-{name.replace(' ', '-')}.json").write_text(
                        json.dumps(doc, indent=1) + "\n"
                    )
                print(summary_row(f"{name} (model)", doc["summary"]))
                print(brier_by_day(doc["summary"]))
                print(summary_row(f"{name} (YoY baseline)", doc["beside"]["yoy_baseline"]))
                print(brier_by_day(doc["beside"]["yoy_baseline"]))
                vs = verdict(
                    doc["summary"]["vs_baseline_ci90"], versus="the YoY baseline", weeks=len(doc["weeks"])
                )
                print(f"  {name}: {vs}")
                if first:
                    print(summary_row("nothing", doc["beside"]["nothing"]))
                    first = False
                print(f"  {doc['run']['weeks']} weeks, every day: {wall:.0f}s wall, {used:.0f}s CPU ({cold})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
