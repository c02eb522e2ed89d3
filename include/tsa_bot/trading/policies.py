"""The joint sizing policies (``ladder``, ``blend``, ``guarded``): what to hold on each side of each market.

``trading.decide`` dispatches here for every policy but ``kelly`` and turns each leg into a decision
through the same risk sizing as the per-strike rule. Pure: no I/O.

- The forecast reaches the decide step as fair strike probabilities (the price step's quotes), so the
  joint samples the ladder needs are rebuilt from them: ``plan_ladder`` only uses the probability of each
  interval between strikes, and :func:`samples_from_probabilities` puts exactly that mass (to 1/n) at a
  point inside each interval (the midpoint; half a strike step beyond the outer strikes).
- ``blend`` pools those samples with the market's implied distribution at ``config.market_weight``
  (``market_implied.pooled_samples``); the replay and the live step (``trading.market_history``) learn
  that weight point in time.
- ``guarded`` is ``blend`` with ``market_implied.disagreement_guard``: its factor scales the Kelly
  fraction, and a skip buys nothing; its reason goes into every decision's reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from tsa_bot.core.market import ZERO
from tsa_bot.pricing.ladder import Held, LadderLimits, LadderStrike, plan_ladder
from tsa_bot.pricing.market_implied import (
    ImpliedDistribution,
    LadderQuote,
    MarketViewError,
    disagreement_guard,
    implied_probabilities,
    pooled_samples,
)
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote
from tsa_bot.trading.config import Policy, TradingConfig
from tsa_bot.trading.risk import ExposureState

SAMPLES = 10_000


@dataclass(frozen=True)
class LegChoice:
    """The policy's answer for one market: the side to buy (count 0 when none), and why."""

    ticker: str
    direction: str  # yes | no
    count: Decimal  # target - held, never negative
    target: Decimal
    limit_price: Decimal | None
    fee_per_contract: Decimal | None
    prob: Decimal  # P(that side wins) under the distribution the policy sized with
    reason: str


def samples_from_probabilities(probs: Mapping[int, float], n: int = SAMPLES) -> np.ndarray:
    """``n`` sorted points whose share in each interval between strikes is that interval's probability.

    ``probs`` is a non-increasing ``{strike: P(mean > strike)}``; shares are rounded by largest remainder.
    """
    strikes = sorted(probs)
    above = [1.0] + [min(max(float(probs[k]), 0.0), 1.0) for k in strikes] + [0.0]
    mass = np.maximum(np.array([above[i] - above[i + 1] for i in range(len(strikes) + 1)]), 0.0)
    mass = mass / mass.sum()
    step = float(np.median(np.diff(strikes))) if len(strikes) > 1 else 50_000.0
    points = [
        strikes[0] - step / 2,
        *((a + b) / 2 for a, b in itertools.pairwise(strikes)),
        strikes[-1] + step / 2,
    ]
    exact = mass * n
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return np.repeat(np.array(points, dtype=float), counts)


def _held(state: ExposureState, ticker: str, direction: str) -> Held:
    holding = state.holdings.get(ticker)
    own = ZERO
    if holding is not None and (holding.position > 0) == (direction == "yes") and holding.position != 0:
        own = holding.exposure
    resting = sum(
        (o.collateral for o in state.resting if o.ticker == ticker and o.direction == direction), ZERO
    )
    return Held(state.held(ticker, direction), own + resting)


def market_view(quotes: Sequence[StrikeQuote]) -> ImpliedDistribution:
    """The market's implied distribution from the quotes' best bids and asks (MarketViewError if too few)."""
    implied = implied_probabilities([LadderQuote(q.strike, q.yes_bid, q.yes_ask) for q in quotes])
    if len(implied) < 2:
        raise MarketViewError(f"only {len(implied)} quoted strike(s): too few to read the market")
    return ImpliedDistribution.from_probabilities(implied)


def joint_choices(
    quotes: Sequence[StrikeQuote],
    snapshot: MarketSnapshot,
    state: ExposureState,
    config: TradingConfig,
    *,
    weight_note: str | None = None,
) -> tuple[dict[str, LegChoice], str]:
    """One choice per tradable quote (priced, not crossed), and a note on the policy's inputs.

    ``weight_note`` says where ``config.market_weight`` came from (the live step learns it); it replaces
    the bare "market weight w" in the note.
    """
    tradable = [q for q in quotes if q.fair_yes is not None and not q.crossed]
    if not tradable:
        return {}, "nothing to price"
    model = samples_from_probabilities({q.strike: float(q.fair_yes) for q in tradable})  # type: ignore[arg-type]
    samples, fraction, notes = model, config.kelly_fraction, [f"policy {config.policy}"]
    if config.policy in (Policy.BLEND, Policy.GUARDED):
        try:
            market = market_view(quotes)
        except MarketViewError as exc:
            notes.append(f"model alone ({exc})")
        else:
            samples = pooled_samples(model, market, float(config.market_weight))
            notes.append(weight_note or f"market weight {config.market_weight}")
            if config.policy is Policy.GUARDED:
                verdict = disagreement_guard(model, market)
                notes.append(verdict.reason)
                fraction = config.kelly_fraction * Decimal(repr(verdict.factor))
    books = {b.ticker: b for b in snapshot.books}
    strikes = [
        LadderStrike(q.ticker, q.strike, books[q.ticker].yes_asks, books[q.ticker].no_asks) for q in tradable
    ]
    held = {(q.ticker, d): _held(state, q.ticker, d) for q in tradable for d in ("yes", "no")}
    limits = config.limits
    headroom = min(limits.max_total_exposure - state.total_exposure(), state.bankroll)
    plan = plan_ladder(
        samples,
        strikes,
        snapshot.fees,
        bankroll=state.bankroll,
        kelly_fraction=min(max(fraction, ZERO), Decimal(1)),
        limits=LadderLimits(
            limits.max_order_contracts,
            limits.max_order_cost,
            limits.max_contracts_per_market,
            limits.max_event_exposure,
            max(headroom, ZERO),
        ),
        held={k: h for k, h in held.items() if h.count > 0},
        min_edge=config.min_edge,
    )
    note = "; ".join(notes + ([plan.note] if plan.note else []))
    values = np.sort(samples)
    out: dict[str, LegChoice] = {}
    for q in tradable:
        legs = [leg for leg in plan.legs if leg.ticker == q.ticker]
        leg = max(legs, key=lambda lg: (lg.count, lg.target, lg.direction == "yes"))
        above = float(values.size - np.searchsorted(values, q.strike, side="right")) / values.size
        prob = Decimal(repr(above if leg.direction == "yes" else 1 - above)).quantize(Decimal("0.000001"))
        out[q.ticker] = LegChoice(
            q.ticker,
            leg.direction,
            leg.count,
            leg.target,
            leg.limit_price,
            leg.fee_per_contract,
            prob,
            leg.reason,
        )
    return out, note
