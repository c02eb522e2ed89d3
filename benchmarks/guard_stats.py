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
import sys

import numpy as np
import replay_inputs

from tsa_bot.trading.policies import guard_verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    replay_inputs.add_arguments(parser)
    args = parser.parse_args(argv)
    inputs = replay_inputs.load(args)

    seen: list[tuple] = []
    for monday, truth, moments in replay_inputs.trading_weeks(inputs):
        for m in moments:
            verdict = guard_verdict(m.quotes, m.market)
            if verdict is not None:
                seen.append(
                    (monday, m.day, m.known_days, verdict, m.market.median, m.forecast.quantile(0.5), truth)
                )

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
