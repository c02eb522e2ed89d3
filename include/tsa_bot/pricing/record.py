"""The bot's record against the market, per known-days count: where its pool has beaten the market's mid.

A *record* at known-days count k (the days of the week TSA had published at a moment, 0-6) is read from
scored moments (:class:`~tsa_bot.pricing.market_implied.ScoredWeek`: the model's and the market's P(YES)
per strike at a moment, and how the strikes settled) of weeks settled *before* the moment it is used at,
and only at moments with the same k. On the strikes quoted on both sides (the market's side of a scored
moment keeps only those), it compares the Brier score of the pool the bot trades (the linear pool of the
model and the market at the market weight ``w``: ``w·market + (1 − w)·model``) with the market's own.

The uncertainty of the difference is a percentile bootstrap over weeks (a week's moments and strikes move
together: they share one outcome), :data:`RESAMPLES` resamples, seeded. Its verdict sizes the trade:

- ``beats``: the 90% interval of (market Brier − pool Brier) lies above 0: full size;
- ``worse``: it lies below 0 (the market has been better): nothing;
- ``unclear``: it straddles 0, or fewer than :data:`MIN_RECORD_WEEKS` weeks: :data:`UNCLEAR_FACTOR`.

The weight used for the past moments is the one the run trades with now at that count, learned from the
same settled weeks (``market_implied.learn_weight``): the record asks how *today's* pool would have fared,
which is in-sample in the weight (one number per count and week set, chosen on a grid) but never in the
outcomes of weeks not yet settled. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from tsa_bot.core.publication import event_known_days
from tsa_bot.pricing.market_implied import ScoredWeek

RESAMPLES = 2_000
SEED = 20  # fixed: the same history gives the same interval, and so the same size, on every retry
MIN_RECORD_WEEKS = 4  # fewer settled weeks at this k: no record, the unclear size
UNCLEAR_FACTOR = Decimal("0.5")
FACTORS = {"beats": Decimal(1), "unclear": UNCLEAR_FACTOR, "worse": Decimal(0)}


@dataclass(frozen=True)
class EdgeRecord:
    """The record a decision sizes by (see the module). ``diff_ci90``: market Brier − pool Brier, 90%."""

    known_days: int
    weeks: int
    strikes: int
    brier_pool: float | None
    brier_market: float | None
    diff_ci90: tuple[float, float] | None
    verdict: str  # beats | unclear | worse
    factor: Decimal  # the share of the size the policy wants that it trades
    reason: str


def edge_record(
    history: Sequence[ScoredWeek], moment: datetime, known_days: int, market_weight: float
) -> EdgeRecord:
    """The record at ``known_days`` from ``history``'s moments of weeks settled before ``moment``."""
    per_week: dict[str, list[tuple[float, float]]] = {}
    for h in history:
        if h.settled_at >= moment or h.moment >= moment:
            continue
        if event_known_days(h.event_ticker, h.moment) != known_days:
            continue
        for strike, market in h.market.items():
            if strike not in h.model or strike not in h.results:
                continue
            outcome = 1.0 if h.results[strike] else 0.0
            pool = market_weight * market + (1 - market_weight) * h.model[strike]
            per_week.setdefault(h.event_ticker, []).append(((pool - outcome) ** 2, (market - outcome) ** 2))
    weeks = len(per_week)
    strikes = sum(len(v) for v in per_week.values())
    if weeks < MIN_RECORD_WEEKS:
        return EdgeRecord(
            known_days,
            weeks,
            strikes,
            None,
            None,
            None,
            "unclear",
            UNCLEAR_FACTOR,
            f"no record at {known_days} known days ({weeks} settled weeks scored, {MIN_RECORD_WEEKS} needed):"
            f" {UNCLEAR_FACTOR} of the size",
        )
    sums = np.array([[sum(p for p, _ in v), sum(m for _, m in v), len(v)] for v in per_week.values()])
    brier_pool, brier_market = sums[:, 0].sum() / strikes, sums[:, 1].sum() / strikes
    rng = np.random.default_rng(SEED)
    picks = rng.integers(0, weeks, size=(RESAMPLES, weeks))
    chosen = sums[picks]  # resamples x weeks x 3
    diffs = (chosen[:, :, 1].sum(axis=1) - chosen[:, :, 0].sum(axis=1)) / chosen[:, :, 2].sum(axis=1)
    low, high = (float(x) for x in np.percentile(diffs, [5, 95]))
    verdict = "beats" if low > 0 else "worse" if high < 0 else "unclear"
    factor = FACTORS[verdict]
    said = {
        "beats": "the pool has beaten the market",
        "worse": "the market has beaten the pool",
        "unclear": "the pool and the market cannot be told apart",
    }[verdict]
    reason = (
        f"record at {known_days} known days: {said} over {weeks} settled weeks ({strikes} two-sided strikes;"
        f" Brier pool {brier_pool:.4f} vs market {brier_market:.4f}, market − pool 90% [{low:+.4f},"
        f" {high:+.4f}]): {factor} of the size"
    )
    return EdgeRecord(
        known_days,
        weeks,
        strikes,
        float(brier_pool),
        float(brier_market),
        (low, high),
        verdict,
        factor,
        reason,
    )
