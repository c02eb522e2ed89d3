"""What the market thinks the weekly mean will be, and how much of it to believe.

- :func:`implied_probabilities`: the ladder's mids, made monotone and kept inside (0, 1).
- :class:`ImpliedDistribution`: those probabilities as a distribution of the weekly mean (CDF, quantiles,
  samples), interpolated in probit space between strikes with normal tails.
- :func:`combine` and :func:`pooled_samples`: a *linear* pool of model and market. A linear pool is the
  mixture "with probability w the market is right": it stays a distribution (monotone in the strike
  for free), its samples are the two sets of samples side by side, and its Brier score is a quadratic in
  ``w``, so the learned weight has one minimum. A logarithmic pool is sharper than either input; when the
  two disagree that sharpness is the wrong way to err. Measured (``benchmarks/market_pool_choice.py``:
  each pool's weight learned point in time per known-days count, scored out of sample on two-sided
  strikes), the simulator's 2025: Brier linear 0.1301, logarithmic 0.1354 (model 0.1455, market 0.1385);
  linear is better at 0-3 known days, the logarithmic one at 4 (0.1424 against 0.1442). The logarithmic
  pool, precision-weighted, lets the sharper model dominate whatever the weight, which is what the
  market's edge early in the week punishes.
- :func:`learn_weight`: the market's weight minimising the Brier score over settled weeks known before
  the moment, on a grid, per known-days count where enough weeks have a moment at it, with a default
  until enough weeks have settled.
- :func:`disagreement_guard`: trade, shrink or skip when the market's median sits more than
  ``GUARD_ACT_Z`` of the model's own standard deviations from its median: beyond what the model's own
  error explains (a storm or an FAA order the model cannot see).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from statistics import NormalDist

import numpy as np

from tsa_bot.core.errors import TsaBotError
from tsa_bot.core.market import yes_wins
from tsa_bot.core.publication import event_known_days
from tsa_bot.pricing.quotes import monotone_probabilities

# Mids are kept this far inside (0, 1): a one-sided book's mid can reach 0 or 1, which no finite
# probit or log score survives, and a 0.1% tail is as sure as a thin ladder ever is.
PROB_FLOOR = 0.001
DEFAULT_MARKET_WEIGHT = 0.5
MIN_SETTLED_WEEKS = 8
WEIGHT_GRID: tuple[float, ...] = tuple(i / 20 for i in range(21))
_NORMAL = NormalDist()


class MarketViewError(TsaBotError):
    """The snapshot has too few usable quotes to say what the market thinks."""


@dataclass(frozen=True)
class LadderQuote:
    """One strike's best YES bid and ask, in dollars; either may be missing."""

    strike: int
    yes_bid: Decimal | None
    yes_ask: Decimal | None


def implied_probabilities(quotes: Sequence[LadderQuote]) -> dict[int, float]:
    """The market's P(weekly mean > strike) per quoted strike: monotone non-increasing, inside (0, 1).

    A missing side counts as its bound (no bid: 0; no ask: 1), the most the empty side can say. A strike
    with neither side, or with a crossed book (bid above ask: a torn snapshot), is left out.
    """
    mids: dict[int, float] = {}
    for q in quotes:
        if q.yes_bid is None and q.yes_ask is None:
            continue
        bid = q.yes_bid if q.yes_bid is not None else Decimal(0)
        ask = q.yes_ask if q.yes_ask is not None else Decimal(1)
        if bid > ask:
            continue
        if q.strike in mids:
            raise MarketViewError(f"strike {q.strike} is quoted twice in one snapshot")
        mids[q.strike] = float((bid + ask) / 2)
    if not mids:
        raise MarketViewError("no strike of the snapshot has a usable quote")
    fitted = monotone_probabilities(mids)
    return {k: min(max(p, PROB_FLOOR), 1 - PROB_FLOOR) for k, p in fitted.items()}


def scored_market_probabilities(quotes: Sequence[LadderQuote]) -> dict[int, float]:
    """The market's P(YES) where it is scored: :func:`implied_probabilities` (fitted over every quoted
    strike) kept at the strikes quoted on both sides only. A one-sided book's mid is the empty side's
    bound, not a price the market stands behind: scoring it would credit the market with a 0.985 on a
    0.97/none book it never offered. Raises ``MarketViewError`` when no strike is two-sided."""
    two_sided = {q.strike for q in quotes if q.yes_bid is not None and q.yes_ask is not None}
    scored = {k: p for k, p in implied_probabilities(quotes).items() if k in two_sided}
    if not scored:
        raise MarketViewError("no strike of the snapshot is quoted on both sides")
    return scored


@dataclass(frozen=True)
class ImpliedDistribution:
    """A distribution of the weekly mean through given survival probabilities at the strikes.

    Between strikes the CDF is linear in probit space (a normal locally); outside them it continues with
    the slope of a normal fitted to all the points, so each tail is a normal tail.
    """

    strikes: tuple[float, ...]
    cdf_values: tuple[float, ...]  # P(mean <= strike), strictly increasing

    @classmethod
    def from_probabilities(cls, probs: Mapping[int, float]) -> ImpliedDistribution:
        """From monotone P(mean > strike), e.g. :func:`implied_probabilities`; needs two strikes or more."""
        if len(probs) < 2:
            raise MarketViewError(f"a distribution needs two quoted strikes or more, got {len(probs)}")
        strikes = sorted(probs)
        cdf = [min(max(1 - probs[k], PROB_FLOOR), 1 - PROB_FLOOR) for k in strikes]
        # Equal neighbours (no mass between two strikes) are separated by a hair so the CDF inverts.
        fixed = [c + i * 1e-9 for i, c in enumerate(np.maximum.accumulate(cdf))]
        return cls(tuple(float(k) for k in strikes), tuple(fixed))

    @cached_property
    def _probits(self) -> np.ndarray:
        return np.array([_NORMAL.inv_cdf(min(c, 1 - 1e-12)) for c in self.cdf_values])

    @cached_property
    def _tail_scale(self) -> float:
        """The standard deviation of the normal that fits the probits best (least squares in strike)."""
        z, k = self._probits, np.asarray(self.strikes)
        slope = float(np.polyfit(k, z, 1)[0])
        if slope <= 0 or not math.isfinite(slope):
            return float(k[-1] - k[0])  # probabilities flat to a hair: the ladder's width as the scale
        return 1.0 / slope

    def quantiles(self, levels: Sequence[float] | np.ndarray) -> np.ndarray:
        levels = np.asarray(levels, dtype=float)
        if np.any((levels <= 0) | (levels >= 1)):
            raise ValueError("quantile levels must lie strictly between 0 and 1")
        return self._at_probits(np.array([_NORMAL.inv_cdf(float(q)) for q in levels]))

    def _at_probits(self, z: np.ndarray) -> np.ndarray:
        z_knots, k = self._probits, np.asarray(self.strikes)
        inside = np.interp(z, z_knots, k)
        scale = self._tail_scale
        below = k[0] + (z - z_knots[0]) * scale
        above = k[-1] + (z - z_knots[-1]) * scale
        return np.where(z < z_knots[0], below, np.where(z > z_knots[-1], above, inside))

    def quantile(self, level: float) -> float:
        return float(self.quantiles([level])[0])

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    def samples(self, n: int) -> np.ndarray:
        """``n`` evenly spaced quantiles (at (i + ½)/n): a deterministic, sorted sample."""
        if n <= 0:
            return np.empty(0)
        return self._at_probits(_even_probits(n))

    def survival(self, strike: float) -> float:
        """P(mean > strike), read back off the same interpolation."""
        z_knots, k = self._probits, np.asarray(self.strikes)
        scale = self._tail_scale
        if strike < k[0]:
            z = z_knots[0] + (strike - k[0]) / scale
        elif strike > k[-1]:
            z = z_knots[-1] + (strike - k[-1]) / scale
        else:
            z = float(np.interp(strike, k, z_knots))
        return 1 - _NORMAL.cdf(z)


@lru_cache(maxsize=32)
def _even_probits(n: int) -> np.ndarray:
    """The probits of the levels (i + ½)/n, i < n: the same for every distribution sampled n times, so
    worked out once (a replay samples thousands of snapshots; ``inv_cdf`` is pure Python)."""
    z = np.array([_NORMAL.inv_cdf((i + 0.5) / n) for i in range(n)])
    z.flags.writeable = False
    return z


def _check_weight(weight: float) -> float:
    if not 0 <= weight <= 1:
        raise ValueError(f"the market's weight must be between 0 and 1, got {weight}")
    return float(weight)


def combine(
    model: Mapping[int, float] | np.ndarray | Sequence[float],
    market: Mapping[int, float],
    market_weight: float,
) -> dict[int, float]:
    """The linear pool ``(1 − w)·model + w·market`` of P(mean > strike), on the model's strikes.

    ``model`` is either its strike probabilities or its samples of the weekly mean (then the market's
    strikes are used). A strike the market did not quote is read off its implied distribution.
    """
    w = _check_weight(market_weight)
    if isinstance(model, Mapping):
        model_probs = {k: float(p) for k, p in model.items()}
    else:
        values = np.sort(np.asarray(model, dtype=float))
        if values.size == 0:
            raise ValueError("no model samples to combine")
        model_probs = {
            k: float(values.size - np.searchsorted(values, k, side="right")) / values.size for k in market
        }
    implied = ImpliedDistribution.from_probabilities(market) if len(market) >= 2 else None
    out = {}
    for k, p in model_probs.items():
        if k in market:
            m = market[k]
        elif implied is not None:
            m = implied.survival(k)
        else:
            raise MarketViewError(f"the market has no price for strike {k} and too few strikes to infer one")
        out[k] = (1 - w) * p + w * m
    return out


def sorted_quantiles(ordered: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(ordered, levels)`` (its default linear method, to the bit) of an already sorted sample.

    ``np.quantile`` partitions the sample around every level on each call, which for thousands of levels
    costs far more than one sort; this indexes the sorted sample and interpolates as numpy's ``_lerp`` does.
    """
    n = ordered.size
    virtual = (n - 1) * np.asarray(levels, dtype=float)
    lower = np.floor(virtual)
    gamma = virtual - lower
    below = ordered[np.clip(lower, 0, n - 1).astype(np.intp)]
    above = ordered[np.clip(lower + 1, 0, n - 1).astype(np.intp)]
    step = above - below
    return np.where(gamma >= 0.5, above - step * (1 - gamma), below + step * gamma)


def pooled_samples(
    model_samples: np.ndarray | Sequence[float], market: ImpliedDistribution, market_weight: float
) -> np.ndarray:
    """Samples of the linear pool, as many as the model's: its own quantiles and the market's, by weight.

    Deterministic: ``round(w·n)`` evenly spaced market quantiles beside as many evenly spaced model
    quantiles as remain; sorted. Feed it to ``ladder.plan_ladder`` as the forecast.
    """
    w = _check_weight(market_weight)
    values = np.asarray(model_samples, dtype=float)
    if values.size == 0:
        raise ValueError("no model samples to pool")
    n_market = round(w * values.size)
    n_model = values.size - n_market
    levels = (np.arange(n_model) + 0.5) / n_model
    own = sorted_quantiles(np.sort(values), levels) if n_model else np.empty(0)
    return np.sort(np.concatenate([own, market.samples(n_market)]))


@dataclass(frozen=True)
class ScoredWeek:
    """One past moment: the model's and the market's probabilities then, and how the strikes settled."""

    event_ticker: str
    moment: dt.datetime  # when the probabilities were made
    settled_at: dt.datetime  # when the results became known
    model: Mapping[int, float]
    market: Mapping[int, float]
    results: Mapping[int, bool]  # strike -> settled YES


def results_from_mean(weekly_mean: float, strikes: Sequence[int]) -> dict[int, bool]:
    """Kalshi's strict ``>``: a mean exactly on a strike settles NO."""
    return {k: yes_wins(weekly_mean, k) for k in strikes}


@dataclass(frozen=True)
class WeightChoice:
    market_weight: float
    weeks: int  # settled events the choice saw
    strikes_scored: int
    brier_model: float | None
    brier_market: float | None
    brier_pooled: float | None
    reason: str
    # The moments it was learned on: those at this known-days count, or None for every moment (the
    # fallback when too few weeks have a moment at the count asked for, and the default's).
    known_days: int | None = None


def _brier(probs: np.ndarray, outcomes: np.ndarray) -> float:
    return float(np.mean((probs - outcomes) ** 2))


def _fit_weight(
    known: Sequence[ScoredWeek], grid: Sequence[float], default: float
) -> tuple[float, float, float, float]:
    """The grid weight of least Brier over ``known``'s two-sided strikes (ties: nearest ``default``),
    with the Brier scores of model, market and pool there."""
    model, market, outcome = [], [], []
    for h in known:
        for k, y in h.results.items():
            if k in h.model and k in h.market:
                model.append(h.model[k])
                market.append(h.market[k])
                outcome.append(1.0 if y else 0.0)
    p_model, p_market, y = np.array(model), np.array(market), np.array(outcome)
    scores = {w: _brier((1 - w) * p_model + w * p_market, y) for w in grid}
    best = min(scores.values())
    weight = min((w for w, s in scores.items() if s <= best + 1e-15), key=lambda w: (abs(w - default), w))
    return weight, _brier(p_model, y), _brier(p_market, y), best


def learn_weight(
    history: Sequence[ScoredWeek],
    moment: dt.datetime,
    *,
    known_days: int | None = None,
    grid: Sequence[float] = WEIGHT_GRID,
    min_weeks: int = MIN_SETTLED_WEEKS,
    default: float = DEFAULT_MARKET_WEIGHT,
) -> WeightChoice:
    """The market's weight in the pool, point in time: from weeks made *and* settled before ``moment``.

    Scores the pool on every strike both sides priced, over the scored moments of those weeks, and takes
    the grid weight of least Brier score (ties: the one nearest ``default``). With ``known_days`` it
    learns from the moments at that known-days count only (TSA's schedule: how much of the week was
    published then), since the market is better than the model at some moments of the week and worse at
    others; when fewer than ``min_weeks`` settled weeks have such a moment, it learns from every moment
    instead, and says so. Fewer than ``min_weeks`` settled weeks in all give ``default``: a handful of
    weeks cannot tell a model from a market.
    """
    if moment.tzinfo is None:
        raise ValueError("the moment must carry a time zone")
    known = [h for h in history if h.settled_at < moment and h.moment < moment]
    weeks = len({h.event_ticker for h in known})
    scope = ""
    if known_days is not None:
        at_k = [h for h in known if event_known_days(h.event_ticker, h.moment) == known_days]
        weeks_at_k = len({h.event_ticker for h in at_k})
        if weeks_at_k >= min_weeks:
            known, weeks = at_k, weeks_at_k
            scope = f" at {known_days} known days"
        else:
            scope = f" (every moment: {weeks_at_k} at {known_days} known days, fewer than {min_weeks})"
            known_days = None
    strikes = sum(1 for h in known for k in h.results if k in h.model and k in h.market)
    if weeks < min_weeks or not strikes:
        return WeightChoice(
            _check_weight(default),
            weeks,
            strikes,
            None,
            None,
            None,
            f"{weeks} settled week(s) before {moment.isoformat()}, fewer than {min_weeks}: "
            f"default market weight {default}",
        )
    weight, brier_model, brier_market, best = _fit_weight(known, grid, default)
    return WeightChoice(
        weight,
        weeks,
        strikes,
        brier_model,
        brier_market,
        best,
        f"market weight {weight} from {weeks} settled weeks{scope} ({strikes} strikes): Brier model "
        f"{brier_model:.4f}, market {brier_market:.4f}, pooled {best:.4f}",
        known_days,
    )


# The guard's bands, in the model's own standard deviations (its spread at the moment: built from its
# out-of-sample errors at the same known-days count, so 1 sd is the size of its ordinary error). Below
# GUARD_ACT_Z the disagreement is what the model's own error explains; from GUARD_SKIP_Z on, nothing is
# bought. Measured (benchmarks/guard_stats.py): over the 364 trading moments of the simulator's 2025 with
# the new crowd, |z| had median 0.60, 95th percentile 2.1, 99th 3.1 and maximum 3.6 (5 moments above 3,
# in 3 weeks, each one where the market was nearer the truth); in a winter-storm week the crowd knows
# of (0.88 from Tuesday, tests/replay/test_replay_guard_shock.py) it is 3.9 to 5.7 on every day.
GUARD_ACT_Z = 3.0
GUARD_SKIP_Z = 4.0
_ONE_SD = (NormalDist().cdf(-1), 0.5, NormalDist().cdf(1))  # a normal's median ± 1 sd


@dataclass(frozen=True)
class GuardVerdict:
    action: str  # trade | shrink | skip
    factor: float  # multiply the Kelly fraction by it: 1 to trade, 0 to skip
    z: float  # the market's median minus the model's, in model standard deviations
    reason: str


def _millions(x: float) -> str:
    return f"{x / 1e6:.3f} M"


def disagreement_guard(
    model_samples: np.ndarray | Sequence[float],
    market: ImpliedDistribution,
    *,
    act_z: float = GUARD_ACT_Z,
    skip_z: float = GUARD_SKIP_Z,
) -> GuardVerdict:
    """Trade, shrink or skip, by how far the market's median lies from the model's in the model's own error.

    The model's samples *are* its error distribution (built from its past out-of-sample errors at the
    moment's known-days count), so their spread is the size of its ordinary error: ``sd`` is half their
    central 68% range (a normal's standard deviation, unmoved by one past week's outlier in the tails),
    and ``z = (market median − model median) / sd``. A disagreement of an sd or two is the model's ordinary
    error (the pool already weighs it); only one beyond ``act_z`` says the market likely knows something
    the model cannot (a storm, a flight-cut order). Between ``act_z`` and ``skip_z`` the Kelly fraction
    falls linearly from 1 to 0; from ``skip_z`` on nothing is bought. The reason says which, with the
    numbers.
    """
    if not 0 < act_z < skip_z:
        raise ValueError(f"the guard needs 0 < act_z < skip_z, got {act_z} and {skip_z}")
    values = np.asarray(model_samples, dtype=float)
    if values.size == 0:
        raise ValueError("no model samples to guard")
    low, own_median, high = (float(x) for x in np.quantile(values, _ONE_SD))
    sd = (high - low) / 2
    theirs = market.median
    gap = theirs - own_median
    z = gap / sd if sd > 0 else (0.0 if gap == 0 else math.copysign(math.inf, gap))
    said = (
        f"market median {_millions(theirs)} vs model median {_millions(own_median)}: gap {gap:+,.0f} "
        f"= {z:+.1f} model sd (sd {sd:,.0f})"
    )
    if abs(z) >= skip_z:
        return GuardVerdict(
            "skip",
            0.0,
            z,
            f"guard acted: {said}, outside the model's ±{skip_z:g} sd: the market likely knows something "
            "the model does not; skipping",
        )
    if abs(z) > act_z:
        factor = (skip_z - abs(z)) / (skip_z - act_z)
        return GuardVerdict(
            "shrink",
            factor,
            z,
            f"guard acted: {said}, beyond {act_z:g} sd (skips at {skip_z:g}): sizing shrunk to {factor:.0%}",
        )
    return GuardVerdict("trade", 1.0, z, f"guard quiet: {said}, within {act_z:g} sd of the model's error")
