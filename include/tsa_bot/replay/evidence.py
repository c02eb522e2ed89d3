"""Whether a replay's result could be luck: a seeded bootstrap over weeks, and what it says in words.

The unit is the week: a week's trades all settle on the same TSA mean, so they win or lose together and
are not independent draws; weeks are (roughly) independent of each other. The interval of the total P&L:
draw ``len(weeks)`` weeks from the replayed weeks with replacement, add their P&L, repeat
:data:`RESAMPLES` times, and take the 5th and 95th percentiles of those totals (numpy's default linear
interpolation). A week replayed but not traded counts as 0: it was a week the strategy could have traded.
The generator is seeded (:data:`SEED`), so the same weeks give the same interval, byte for byte.

The comparison with another run (the YoY baseline) is *paired*: each week's P&L minus the other run's P&L
of the same week (the same event), then the same bootstrap over those differences. Pairing keeps what the
two runs share (the same market, the same surprise in TSA's numbers) out of the interval.

A percentile bootstrap over a few dozen weeks is a rough guide, not a test: with ten weeks it is too narrow
if anything. An interval that includes 0 means the figure is no evidence either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import numpy as np

RESAMPLES = 10_000
SEED = 19  # fixed: the same weeks give the same interval in every run's JSON
LEVEL = 0.90
_CHUNK = 1_000  # resamples drawn at once: memory stays at _CHUNK x weeks whatever the replay's length


def bootstrap_total_ci(
    weekly: Sequence[float | Decimal],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """The ``level`` percentile interval of the total of ``weekly`` (one value per week), by resampling the
    weeks with replacement ``resamples`` times from ``numpy.random.default_rng(seed)``; None with no weeks.

    For a constant ``c`` over ``n`` weeks every resample totals ``n·c``: the interval is ``(n·c, n·c)``.
    Adding ``c`` to every week moves both ends by ``n·c`` (the same draws, seed for seed).
    """
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    values = np.asarray([float(v) for v in weekly], dtype=float)
    n = values.size
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    totals = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        totals[start : start + size] = values[rng.integers(0, n, size=(size, n))].sum(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(totals, [tail, 1 - tail])
    return float(low), float(high)


def paired_differences(
    ours: Iterable[tuple[str, Decimal]], theirs: Mapping[str, Decimal]
) -> list[tuple[str, Decimal]]:
    """Week by week (keyed by event), our P&L minus theirs, in our weeks' order; a week only one of the two
    replayed counts the other's as 0 (it did not trade it), listed after ours in the order of ``theirs``."""
    out = []
    seen = set()
    for event, pnl in ours:
        out.append((event, pnl - theirs.get(event, Decimal(0))))
        seen.add(event)
    out += [(event, -pnl) for event, pnl in theirs.items() if event not in seen]
    return out


def rounded(interval: tuple[float, float] | None) -> list[float] | None:
    """The interval as the JSON's ``[low, high]`` in dollars to the cent; None stays None."""
    if interval is None:
        return None
    return [round(interval[0], 2), round(interval[1], 2)]


def verdict(interval: Sequence[float] | None, *, versus: str | None = None) -> str:
    """What a 90% interval says, in words: above 0, below 0, or includes 0 (no evidence either way).

    ``versus``: the interval is of our P&L minus that run's (e.g. "the YoY baseline").
    """
    if interval is None:
        return "no interval (no week replayed)" if versus is None else f"no interval (no {versus} run)"
    low, high = interval
    span = f"{low:+,.2f} to {high:+,.2f}"
    if versus is None:
        if low > 0:
            return f"90% interval of the P&L {span} lies above 0: evidence of an edge"
        if high < 0:
            return f"90% interval of the P&L {span} lies below 0: evidence of a loss"
        return f"90% interval of the P&L {span} includes 0: no evidence of an edge (could be luck)"
    if low > 0:
        return f"90% interval of the P&L minus {versus}'s {span} lies above 0: evidence it beats {versus}"
    if high < 0:
        return f"90% interval of the P&L minus {versus}'s {span} lies below 0: evidence {versus} beats it"
    return (
        f"90% interval of the P&L minus {versus}'s {span} includes 0: no evidence either is better "
        "(could be luck)"
    )
