"""The sizing policies, one table: what each wants to hold in every market of an event, and what it needs.

Every policy is one function of the same shape, :data:`Size`: given the event (its books and fees, the
model's strike probabilities as quotes, what we hold) and the sizing limits, it answers a :class:`Want`
per market it would trade. ``trading.decide`` cuts each want to the risk limits and counts it against the
next market; the replay and the DAG's decide step both go through it. The table, :data:`POLICIES`, keyed
by name, says what each policy needs; the configuration, the DAG's ``policy`` param and the replay's
``--policy`` take their choices from it. A new policy is one function and one entry here. Pure: no I/O.

- ``kelly``: each strike on its own, fractional Kelly on the better direction.
- ``ladder``: the event's strikes as one bet (``pricing.ladder.plan_ladder``). The forecast reaches it as
  fair strike probabilities, so the joint samples the ladder needs are rebuilt from them: ``plan_ladder``
  only uses the probability of each interval between strikes, and :func:`samples_from_probabilities`
  puts exactly that mass (to 1/n) at a point inside each interval (the midpoint; half a strike step
  beyond the outer strikes).
- ``blend``: the ladder on the model pooled with the market's implied distribution at the market weight
  (``market_implied.pooled_samples``); the replay and the live step (``trading.market_history``) learn
  that weight point in time.
- ``guarded``: ``blend`` with ``market_implied.disagreement_guard`` (:func:`guard_verdict`): when the
  market's median lies more than 3 of the model's own standard deviations from the model's, its factor
  scales the Kelly fraction down (to 0 from 4 sd on: nothing is bought); its reason, "guard acted" or
  "guard quiet" with the medians, the gap and the sd, goes into every decision's reason.
- ``recorded``: ``blend`` sized by its record against the market at the moment's known-days count
  (``pricing.record``): full size where the pool has clearly beaten the market's mid in settled weeks, a
  fraction where it is unclear, nothing where the market has been better; the record it acted on is in
  every decision's reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from tsa_bot.core.market import ONE, ZERO, Direction, OrderBook
from tsa_bot.pricing.fees import FeeSchedule, fee_per_contract
from tsa_bot.pricing.ladder import Held, LadderLimits, LadderStrike, plan_ladder
from tsa_bot.pricing.market_implied import (
    GuardVerdict,
    ImpliedDistribution,
    LadderQuote,
    MarketViewError,
    disagreement_guard,
    implied_probabilities,
    pooled_samples,
)
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote, kelly_contracts
from tsa_bot.pricing.record import UNCLEAR_FACTOR, EdgeRecord
from tsa_bot.trading.risk import ExposureState, RiskLimits

SAMPLES = 10_000


@dataclass(frozen=True, kw_only=True)
class EventBook:
    """What a policy sizes one event from: the books, the model's probabilities, and what we hold.

    ``quotes`` carry, per strike, the model's P(YES) (``fair_yes``) beside the book's prices, fees and
    EVs. ``market`` is the market's implied distribution, read for a policy that needs it
    (``needs_market_view``); ``market_unread`` says why it could not be read, if so.
    """

    quotes: Sequence[StrikeQuote]
    snapshot: MarketSnapshot
    state: ExposureState
    market: ImpliedDistribution | None = None
    market_unread: str | None = None


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """The configuration a policy sizes by: the size limits, the Kelly fraction, the edge it demands, and
    the market's weight (``weight_note``: where it came from, said in the reasons instead of the number)."""

    policy: str  # its name in :data:`POLICIES`, said in its reasons
    limits: RiskLimits
    kelly_fraction: Decimal
    min_edge: Decimal
    market_weight: Decimal
    weight_note: str | None = None
    record: EdgeRecord | None = None  # for ``recorded``: the record at the moment's known-days count


@dataclass(frozen=True, kw_only=True)
class Want:
    """What a policy wants in one market before the risk limits: ``count`` more of ``direction``, at up to
    ``limit_price``, to hold ``target``. A count of 0 buys nothing; ``reason`` says why either way."""

    direction: Direction | None
    count: Decimal
    reason: str
    limit_price: Decimal | None = None  # of the direction bought
    fee: Decimal | None = None  # per contract at the limit price
    ev: Decimal | None = None  # per contract, after the fee
    target: Decimal | None = None  # the position the policy sizes to

    @property
    def buys(self) -> bool:
        return (
            self.count > 0
            and self.direction is not None
            and self.limit_price is not None
            and self.fee is not None
            and self.ev is not None
        )


# A policy: the markets it has something to say about, by ticker (a market left out buys nothing, for the
# quote's own note). Its wants are computed from the same state: the caller counts each against the next.
Size = Callable[[EventBook, Sizing], Mapping[str, Want]]


@dataclass(frozen=True)
class SizingPolicy:
    """One row of :data:`POLICIES`: the function, and what the decide step must give it."""

    size: Size
    learns_market_weight: bool = False  # the market weight is learned point in time (else the config's)
    needs_market_view: bool = False  # the market's implied distribution is read from the quotes
    needs_record: bool = False  # sized by its record against the market (``pricing.record``)


# ---- kelly: each strike on its own ------------------------------------------------------------------


def _levels_worth_buying(
    book: OrderBook, direction: Direction, prob: Decimal, fees: FeeSchedule, min_edge: Decimal
) -> tuple[Decimal, Decimal | None]:
    """Contracts offered at prices still worth ``min_edge`` after fees, and the worst such price."""
    asks = book.asks(direction)
    available, limit = ZERO, None
    for level in sorted(asks, key=lambda lv: lv.price):
        if prob - level.price - fee_per_contract(fees, level.price) < min_edge:
            break
        available += level.count
        limit = level.price
    return available, limit


def kelly(event: EventBook, sizing: Sizing) -> dict[str, Want]:
    """Per strike: the direction with the better EV, sized by fractional Kelly on the levels worth buying."""
    books = {b.ticker: b for b in event.snapshot.books}
    fees, state = event.snapshot.fees, event.state
    wants: dict[str, Want] = {}
    for q in event.quotes:
        if q.fair_yes is None or q.crossed or (q.ev_yes is None and q.ev_no is None):
            continue
        candidates = [
            (ev, d) for ev, d in ((q.ev_yes, Direction.YES), (q.ev_no, Direction.NO)) if ev is not None
        ]
        ev, direction = max(candidates)
        if ev < sizing.min_edge:
            evs = ", ".join(f"{d} {e}" for e, d in candidates)
            reason = f"no edge: EV per contract {evs} below the minimum {sizing.min_edge}"
            wants[q.ticker] = Want(direction=None, count=ZERO, reason=reason)
            continue
        prob = q.fair_yes if direction == Direction.YES else ONE - q.fair_yes
        available, limit = _levels_worth_buying(books[q.ticker], direction, prob, fees, sizing.min_edge)
        assert limit is not None  # the best ask passed the same test
        fee = fee_per_contract(fees, limit)
        target = kelly_contracts(prob, limit, fee, state.bankroll, sizing.kelly_fraction)
        held = state.held(q.ticker, direction)
        count = min(target - held, available)
        if count <= 0:
            reason = f"holding {held} {direction.upper()} of a Kelly target of {target}"
        else:
            reason = (
                f"EV {ev} per contract after fees; Kelly target {target}, holding {held}, "
                f"{available} offered up to {limit}"
            )
        wants[q.ticker] = Want(
            direction=direction,
            count=max(count, ZERO),
            reason=reason,
            limit_price=limit,
            fee=fee,
            ev=ev,
            target=target,
        )
    return wants


# ---- ladder, blend, guarded: the event as one bet -------------------------------------------------------


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


def market_view(quotes: Sequence[StrikeQuote]) -> ImpliedDistribution:
    """The market's implied distribution from the quotes' best bids and asks (MarketViewError if too few)."""
    implied = implied_probabilities([LadderQuote(q.strike, q.yes_bid, q.yes_ask) for q in quotes])
    if len(implied) < 2:
        raise MarketViewError(f"only {len(implied)} quoted strike(s): too few to read the market")
    return ImpliedDistribution.from_probabilities(implied)


def _held(state: ExposureState, ticker: str, direction: Direction) -> Held:
    holding = state.holdings.get(ticker)
    own = ZERO
    if holding is not None and (holding.position > 0) == (direction == "yes") and holding.position != 0:
        own = holding.exposure
    resting = sum(
        (o.collateral for o in state.resting if o.ticker == ticker and o.direction == direction), ZERO
    )
    return Held(state.held(ticker, direction), own + resting)


# What a joint policy does to the model's samples before the ladder sizes them: the samples to size on, the
# Kelly fraction, and notes on what it did.
Reshape = Callable[[np.ndarray], tuple[np.ndarray, Decimal, list[str]]]


def _ladder_wants(event: EventBook, sizing: Sizing, reshape: Reshape) -> dict[str, Want]:
    """One want per tradable quote (priced, not crossed): the ladder's plan on the reshaped samples.

    Every reason ends with a note on the policy's inputs (its name, the market weight, the guard).
    """
    tradable = [q for q in event.quotes if q.fair_yes is not None and not q.crossed]
    if not tradable:
        return {}
    model = samples_from_probabilities({q.strike: float(q.fair_yes) for q in tradable})  # type: ignore[arg-type]
    samples, fraction, notes = reshape(model)
    state, limits = event.state, sizing.limits
    books = {b.ticker: b for b in event.snapshot.books}
    strikes = [
        LadderStrike(q.ticker, q.strike, books[q.ticker].yes_asks, books[q.ticker].no_asks) for q in tradable
    ]
    held = {(q.ticker, d): _held(state, q.ticker, d) for q in tradable for d in Direction}
    headroom = min(limits.max_total_exposure - state.total_exposure(), state.bankroll)
    plan = plan_ladder(
        samples,
        strikes,
        event.snapshot.fees,
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
        min_edge=sizing.min_edge,
    )
    note = "; ".join([f"policy {sizing.policy}", *notes] + ([plan.note] if plan.note else []))
    values = np.sort(samples)
    wants: dict[str, Want] = {}
    for q in tradable:
        legs = [leg for leg in plan.legs if leg.ticker == q.ticker]
        leg = max(legs, key=lambda lg: (lg.count, lg.target, lg.direction == Direction.YES))
        reason = f"{leg.reason}; {note}"
        if leg.count <= 0 or leg.limit_price is None or leg.fee_per_contract is None:
            wants[q.ticker] = Want(direction=None, count=ZERO, reason=reason, target=leg.target)
            continue
        above = float(values.size - np.searchsorted(values, q.strike, side="right")) / values.size
        direction = Direction(leg.direction)
        prob = Decimal(repr(above if direction == Direction.YES else 1 - above)).quantize(Decimal("0.000001"))
        wants[q.ticker] = Want(
            direction=direction,
            count=leg.count,
            reason=reason,
            limit_price=leg.limit_price,
            fee=leg.fee_per_contract,
            ev=prob - leg.limit_price - leg.fee_per_contract,
            target=leg.target,
        )
    return wants


def _pooled(event: EventBook, sizing: Sizing, model: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The model pooled with the market at the market weight; the model alone if the market is unread."""
    if event.market is None:
        return model, [f"model alone ({event.market_unread})"]
    pooled = pooled_samples(model, event.market, float(sizing.market_weight))
    return pooled, [sizing.weight_note or f"market weight {sizing.market_weight}"]


def ladder(event: EventBook, sizing: Sizing) -> dict[str, Want]:
    """The whole ladder as one bet, on the model's probabilities."""
    return _ladder_wants(event, sizing, lambda model: (model, sizing.kelly_fraction, []))


def blend(event: EventBook, sizing: Sizing) -> dict[str, Want]:
    """The ladder on the model pooled with the market's implied distribution."""

    def reshape(model: np.ndarray) -> tuple[np.ndarray, Decimal, list[str]]:
        samples, notes = _pooled(event, sizing, model)
        return samples, sizing.kelly_fraction, notes

    return _ladder_wants(event, sizing, reshape)


def guard_verdict(quotes: Sequence[StrikeQuote], market: ImpliedDistribution) -> GuardVerdict | None:
    """``market_implied.disagreement_guard`` on the model's view of the quotes: its strike probabilities
    read as a distribution as the market's are (probit-interpolated between strikes), so the two medians
    and the model's spread are measured alike, not rounded to the ladder's 50,000 steps.

    A model whose probabilities do not change across the ladder (its mass all beyond one end) has no
    spread the ladder can show; it is read as :func:`samples_from_probabilities` puts it, half a step
    beyond that end. None when the model prices fewer than two strikes.
    """
    probs = {q.strike: float(q.fair_yes) for q in quotes if q.fair_yes is not None and not q.crossed}
    if len(probs) < 2:
        return None
    if len({round(p, 6) for p in probs.values()}) < 2:
        return disagreement_guard(samples_from_probabilities(probs), market)
    model = ImpliedDistribution.from_probabilities(probs)
    return disagreement_guard(model.samples(SAMPLES), market)


def guarded(event: EventBook, sizing: Sizing) -> dict[str, Want]:
    """``blend``, its Kelly fraction scaled by the disagreement guard (0 when the market is far out)."""

    def reshape(model: np.ndarray) -> tuple[np.ndarray, Decimal, list[str]]:
        samples, notes = _pooled(event, sizing, model)
        verdict = guard_verdict(event.quotes, event.market) if event.market is not None else None
        if verdict is None:
            return samples, sizing.kelly_fraction, notes
        return samples, sizing.kelly_fraction * Decimal(repr(verdict.factor)), [*notes, verdict.reason]

    return _ladder_wants(event, sizing, reshape)


def recorded(event: EventBook, sizing: Sizing) -> dict[str, Want]:
    """``blend``, its Kelly fraction scaled by the record's factor (nothing where the market has been
    better). Without a record (a caller that computed none) it trades the unclear share."""
    record = sizing.record

    def reshape(model: np.ndarray) -> tuple[np.ndarray, Decimal, list[str]]:
        samples, notes = _pooled(event, sizing, model)
        if record is None:
            return samples, sizing.kelly_fraction * UNCLEAR_FACTOR, [*notes, "no record given: unclear"]
        return samples, sizing.kelly_fraction * record.factor, [*notes, record.reason]

    return _ladder_wants(event, sizing, reshape)


# ---- the table --------------------------------------------------------------------------------------------

# The policies, described in this module's docstring, by name.
POLICIES: dict[str, SizingPolicy] = {
    "kelly": SizingPolicy(kelly),
    "ladder": SizingPolicy(ladder),
    "blend": SizingPolicy(blend, learns_market_weight=True, needs_market_view=True),
    "guarded": SizingPolicy(guarded, learns_market_weight=True, needs_market_view=True),
    "recorded": SizingPolicy(recorded, learns_market_weight=True, needs_market_view=True, needs_record=True),
}
DEFAULT_POLICY = "kelly"  # today's behaviour until a replay shows another does better


def policy_names() -> list[str]:
    """The policies' names, in the table's order: the configuration's, the DAG's and the CLI's choices."""
    return list(POLICIES)
