"""Paired comparison of replays: each policy's P&L minus a reference policy's, week by week, with its 90%
interval (the replay's own seeded bootstrap over weeks: ``replay.evidence``).

Reads the JSON documents ``benchmarks/replay_year.py --json-dir`` (and ``replay_real_week.py``) write, named
``replay-<policy>-<execution>.json``. Usage:

    PYTHONPATH=include .venv/bin/python benchmarks/compare_policies.py /tmp/bench/new --reference kelly
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

from tsa_bot.replay.evidence import bootstrap_total_ci, paired_differences, verdict


def weekly(doc: dict) -> list[tuple[str, Decimal]]:
    return [(w["event_ticker"], Decimal(str(w["pnl"]))) for w in doc["weeks"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--reference", default="kelly")
    parser.add_argument("--prefix", default="replay", help="file name prefix: replay or real-week")
    args = parser.parse_args(argv)
    for execution in ("taker", "maker"):
        ref_path = args.directory / f"{args.prefix}-{args.reference}-{execution}.json"
        if not ref_path.exists():
            continue
        reference = dict(weekly(json.loads(ref_path.read_text())))
        print(f"{execution}: P&L minus {args.reference}'s, paired by week (90% interval)")
        for path in sorted(args.directory.glob(f"{args.prefix}-*-{execution}.json")):
            policy = path.name.removeprefix(f"{args.prefix}-").removesuffix(f"-{execution}.json")
            if policy == args.reference:
                continue
            diffs = paired_differences(weekly(json.loads(path.read_text())), reference)
            ci = bootstrap_total_ci([d for _, d in diffs])
            total = sum((d for _, d in diffs), Decimal(0))
            said = verdict(ci, versus=args.reference, weeks=len(diffs))
            low, high = ci if ci else (float("nan"), float("nan"))
            print(f"  {policy:<10}{float(total):>+10.2f}   [{low:+.0f}, {high:+.0f}]   {said}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
