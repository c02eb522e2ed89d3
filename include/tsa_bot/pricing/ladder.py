"""Size the ~21 strikes of one weekly event as one bet: the contracts that maximise expected log wealth.

Every strike of a KXTSAW event settles on the same number, so the strikes are one bet, not 21. YES
"above 2.30 M" with NO "above 2.40 M" pays $1 in either tail and $2 between them: a range bet whose worst
case is the premium over $1, which per-strike Kelly would size as two independent gambles.

Choices, and why:

- **Outcomes.** A ladder position only pays differently where the weekly mean crosses a strike, so the
  forecast's samples collapse *exactly* into the K + 1 intervals between strikes (Kalshi's strict ``>``):
  the expectation over 5,000 joint samples is a 22-term sum.
- **Fractional Kelly as Kelly on a sub-bankroll.** We maximise ``E[log W]`` with
  ``W = f·(bankroll + held cost) − held cost − new cost + payoff``. With linear payoffs the full-Kelly
  optimum scales with the bankroll, so this is exactly ``f`` times the full-Kelly exposure; unlike scaling
  afterwards, it sees that deeper book levels cost more, and it keeps the event's loss below ``f`` times
  the wealth in *every* interval, even one no sample reached.
- **Target minus held.** Holdings enter by what they pay and what they cost (sunk, but counted in the
  sub-bankroll), so the target depends on the total position only: buying it and deciding again orders
  nothing. ``bankroll`` is cash, as ``ExposureState.bankroll``; cash + held cost is then unchanged by a buy.
- **No selling.** A target is never below what is held, and orders are never negative. Buying the other
  side of a held market is allowed when it raises ``E[log W]`` (Kalshi nets it, like a sale).
- **Costs.** Each contract costs its ask level's price plus :func:`fee_per_contract` at that price (the
  one-contract fee: an upper bound on Kalshi's rounded per-trade fee), plus ``min_edge`` in the objective
  only (a margin demanded, as the per-strike rule does). The limits count an order as
  ``count × (limit price + its fee)``, the most a limit order can take, as ``trading.risk`` checks it.
- **Exact money.** Prices, fees and limits become integer units of $0.0001 for the limit checks; the
  objective is float64.
- **Optimiser.** No maintained integer optimiser is installed (no scipy), and the problem is small, so an
  integer ascent: the best move of ±2^m contracts on one leg or on two legs at once, halving m down to 1.
  Two-leg moves grow both legs of a range when either alone would hurt a tail, and pass budget from leg
  to leg under a binding limit; the objective is concave, so its tangent bounds every move and only the
  pairs that could gain are evaluated. Each accepted move raises the objective by more than a tolerance,
  so the loop ends, deterministically (ties go to the lowest strike, YES before NO). Without a binding
  shared limit it matched an exhaustive search on every small ladder tried; under one the problem is a
  knapsack (limit prices jump between book levels) and the result is a local optimum: no change of one
  contract on one or two legs does better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import cache

import numpy as np

from tsa_bot.core.errors import TsaBotError
from tsa_bot.core.market import ZERO, Direction, Level
from tsa_bot.pricing.fees import FeeSchedule, fee_per_contract

TICK = Decimal("0.0001")  # Kalshi's finest price step, and the fee's rounding unit
DIRECTIONS = (Direction.YES.value, Direction.NO.value)  # as plain strings: the keys of ``held``
_TOLERANCE = 1e-12  # the smallest gain in E[log W] (nats) that counts as an improvement


class LadderError(TsaBotError):
    """The ladder's inputs cannot be sized: a bad sample, price, count or limit."""


@dataclass(frozen=True)
class LadderStrike:
    """One market of the event: its floor strike and the asks on each side (any order, cheapest taken first).

    From a ``StrikeBook``: ``LadderStrike(b.ticker, b.strike, b.yes_asks, b.no_asks)``.
    """

    ticker: str
    strike: float
    yes_asks: tuple[Level, ...]
    no_asks: tuple[Level, ...]


@dataclass(frozen=True)
class Held:
    """Contracts held (or resting) on one side of one market, and what they cost (collateral, with fees)."""

    count: Decimal
    cost: Decimal


@dataclass(frozen=True)
class LadderLimits:
    """The size limits the ladder respects; money in dollars, as ``trading.config.RiskLimits``.

    ``max_new_cost`` is any further cap on what the new orders may commit (the headroom under the total
    exposure limit, or the cash): ``None`` for none.
    """

    max_order_contracts: Decimal
    max_order_cost: Decimal
    max_contracts_per_market: Decimal
    max_event_exposure: Decimal
    max_new_cost: Decimal | None = None

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value is not None and (not value.is_finite() or value < 0):
                raise LadderError(f"limit {name} must be a finite amount >= 0, got {value}")


@dataclass(frozen=True)
class LegPlan:
    """The plan for one side of one market: what to hold, what that means to buy, and what stopped it."""

    ticker: str
    strike: float
    direction: str  # yes | no
    held: Decimal
    target: Decimal
    count: Decimal  # to buy now: target - held, never negative
    limit_price: Decimal | None  # the dearest ask level the order reaches
    fee_per_contract: Decimal | None  # at the limit price
    cost: Decimal  # level by level: price + fee per contract, what the fills are expected to cost
    collateral: Decimal  # count × (limit price + fee): what the limits count
    binding: str  # what stops one more contract: "" when the objective does

    @property
    def reason(self) -> str:
        stop = f"stopped by {self.binding}" if self.binding else "more would lower E[log wealth]"
        contract = self.direction.upper()
        if self.count <= 0:
            return f"joint ladder bet: holding {self.held} {contract}, target {self.target}; {stop}"
        return (
            f"joint ladder bet: target {self.target} {contract}, holding {self.held}, "
            f"buying {self.count} up to {self.limit_price}; {stop}"
        )


@dataclass(frozen=True)
class LadderPlan:
    legs: tuple[LegPlan, ...]  # every side of every market, strikes ascending, YES first
    kelly_bankroll: Decimal  # f × (bankroll + held cost): the most this event may lose
    growth: float  # E[log W] gained by the orders, nats of the sub-bankroll
    expected_profit: Decimal  # of the orders, at the model's probabilities, after fees
    worst_profit: Decimal  # of the whole event position (held and ordered), over every outcome
    note: str = ""

    @property
    def orders(self) -> tuple[LegPlan, ...]:
        return tuple(leg for leg in self.legs if leg.count > 0)

    @property
    def targets(self) -> dict[tuple[str, str], Decimal]:
        return {(leg.ticker, leg.direction): leg.target for leg in self.legs}


def outcome_probabilities(samples: np.ndarray, strikes: np.ndarray) -> np.ndarray:
    """P(the weekly mean falls in each interval between sorted ``strikes``): ``len(strikes) + 1`` values.

    Interval ``b`` holds the means above exactly ``b`` strikes (strictly), as Kalshi settles "above".
    """
    bucket = np.searchsorted(strikes, samples, side="left")
    return np.bincount(bucket, minlength=len(strikes) + 1) / len(samples)


def _ticks(amount: Decimal, what: str) -> int:
    units = amount / TICK
    if not units.is_finite() or units != units.to_integral_value():
        raise LadderError(f"{what} {amount} is not a multiple of $0.0001")
    return int(units)


def _limit_ticks(amount: Decimal, what: str) -> int:
    if not amount.is_finite() or amount < 0:
        raise LadderError(f"limit {what} must be a finite amount >= 0, got {amount}")
    return int((amount / TICK).to_integral_value(rounding=ROUND_FLOOR))


def _whole(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


@dataclass
class _Leg:
    ticker: str
    strike: float
    direction: str
    held: Decimal
    held_cost: Decimal
    cap: int  # most contracts one order may buy, before the shared budget
    cap_reason: str
    level_prices: list[Decimal]  # the ask levels, cheapest first
    level_ends: np.ndarray  # contracts offered up to and including each level
    cum_ticks: np.ndarray  # cost of the first n contracts, level by level, in ticks (length cap + 1)
    collateral_ticks: np.ndarray  # n × (limit price + fee) in ticks

    def limit_price(self, count: int) -> Decimal | None:
        """The price of the ``count``-th cheapest contract: the limit an order for ``count`` needs."""
        return self.level_prices[int(np.searchsorted(self.level_ends, count))] if count else None


@dataclass(frozen=True)
class _Caps:
    """The per-order and per-market limits, converted once: whole contracts and ticks."""

    order_contracts: int
    order_cost_ticks: int
    per_market: Decimal


def _build_leg(
    strike: LadderStrike, direction: str, held: Held, unit_ticks: Callable[[Decimal], int], caps: _Caps
) -> _Leg:
    asks = strike.yes_asks if direction == Direction.YES else strike.no_asks
    merged: dict[Decimal, int] = {}
    for level in asks:
        if not level.price.is_finite() or not ZERO < level.price < 1:
            raise LadderError(f"{strike.ticker} {direction} ask {level.price} is not a price between 0 and 1")
        if not level.count.is_finite() or level.count < 0:
            raise LadderError(f"{strike.ticker} {direction} ask size {level.count} is not a count >= 0")
        _ticks(level.price, f"{strike.ticker} {direction} ask")
        merged[level.price] = merged.get(level.price, 0) + _whole(level.count)
    prices = sorted(p for p, c in merged.items() if c > 0)
    counts = [merged[p] for p in prices]
    units = [unit_ticks(p) for p in prices]
    limits = {
        "available": sum(counts),
        "order_contracts": caps.order_contracts,
        "market_contracts": _whole(caps.per_market - held.count),
    }
    cap_reason = min(limits, key=lambda k: limits[k])
    cap = max(limits[cap_reason], 0)
    unit = np.repeat(np.asarray(units, dtype=np.int64), counts)[:cap]
    cum = np.concatenate(([0], np.cumsum(unit))).astype(np.int64)
    collateral = np.concatenate(([0], np.arange(1, cap + 1, dtype=np.int64) * unit))
    by_cost = int(np.searchsorted(collateral, caps.order_cost_ticks, "right")) - 1
    if by_cost < cap:
        cap, cap_reason = by_cost, "order_cost"
    return _Leg(
        ticker=strike.ticker,
        strike=strike.strike,
        direction=direction,
        held=held.count,
        held_cost=held.cost,
        cap=cap,
        cap_reason=cap_reason,
        level_prices=prices,
        level_ends=np.cumsum(counts, dtype=np.int64),
        cum_ticks=cum[: cap + 1],
        collateral_ticks=collateral[: cap + 1],
    )


def _check_samples(samples: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(samples, dtype=float).ravel()
    if values.size == 0:
        raise LadderError("no forecast samples to size the ladder on")
    if not np.all(np.isfinite(values)):
        raise LadderError("a forecast sample is NaN or infinite")
    return values


def plan_ladder(
    samples: Sequence[float] | np.ndarray,
    strikes: Sequence[LadderStrike],
    fees: FeeSchedule,
    *,
    bankroll: Decimal,
    kelly_fraction: Decimal,
    limits: LadderLimits,
    held: Mapping[tuple[str, str], Held] | None = None,
    min_edge: Decimal = ZERO,
) -> LadderPlan:
    """The contracts to hold on each side of each market of one event, and the orders that get there.

    ``samples`` are joint draws of the weekly mean; ``held`` is keyed by ``(ticker, direction)`` and includes
    resting orders; ``bankroll`` is the cash the account has (not counting this event's holdings).
    """
    values = _check_samples(samples)
    held = held or {}
    if not kelly_fraction.is_finite() or not 0 <= kelly_fraction <= 1:
        raise LadderError(f"kelly_fraction must be between 0 and 1, got {kelly_fraction}")
    if not bankroll.is_finite():
        raise LadderError(f"bankroll must be a finite amount, got {bankroll}")
    if not min_edge.is_finite() or min_edge < 0:
        raise LadderError(f"min_edge must be a finite amount >= 0, got {min_edge}")
    tickers = [s.ticker for s in strikes]
    if len(set(tickers)) != len(tickers):
        raise LadderError("a ticker appears twice in the ladder")
    if any(not math.isfinite(s.strike) for s in strikes):
        raise LadderError("a strike is NaN or infinite")
    for (ticker, direction), h in held.items():
        if ticker not in tickers or direction not in DIRECTIONS:
            raise LadderError(f"holding {ticker} {direction} is not a side of a market in this ladder")
        if not (h.count.is_finite() and h.cost.is_finite()) or h.count < 0 or h.cost < 0:
            raise LadderError(f"holding {ticker} {direction} must have a count and a cost >= 0")

    ordered = sorted(strikes, key=lambda s: (s.strike, s.ticker))
    caps = _Caps(
        _whole(limits.max_order_contracts),
        _limit_ticks(limits.max_order_cost, "max_order_cost"),
        limits.max_contracts_per_market,
    )

    @cache
    def unit_ticks(price: Decimal) -> int:
        return _ticks(price, "an ask") + _ticks(fee_per_contract(fees, price), "a fee")

    legs = [
        _build_leg(s, direction, held.get((s.ticker, direction), Held(ZERO, ZERO)), unit_ticks, caps)
        for s in ordered
        for direction in DIRECTIONS
    ]
    held_cost = sum((leg.held_cost for leg in legs), ZERO)
    kelly_bankroll = kelly_fraction * (bankroll + held_cost)
    budgets = {"event_exposure": limits.max_event_exposure - held_cost}
    if limits.max_new_cost is not None:
        budgets["new_cost"] = limits.max_new_cost
    budget_reason = min(budgets, key=lambda k: budgets[k])
    budget = _limit_ticks(max(budgets[budget_reason], ZERO), budget_reason)

    grid = np.unique(np.asarray([s.strike for s in ordered], dtype=float))
    prob = outcome_probabilities(values, grid)
    # pays[j, b]: what one contract of leg j pays when the mean lies in interval b.
    rank = np.searchsorted(grid, [leg.strike for leg in legs])
    above = np.arange(len(grid) + 1)[None, :] > rank[:, None]
    is_yes = np.array([leg.direction == Direction.YES for leg in legs])[:, None]
    pays = np.where(is_yes, above, ~above).astype(float)
    held_counts = np.array([float(leg.held) for leg in legs])
    start = float(kelly_bankroll - held_cost) + held_counts @ pays

    solver = _Ascent(legs, pays, prob, start, budget, float(min_edge))
    blocked, note = "", ""
    if kelly_fraction == 0:
        blocked, note = "kelly_fraction", "Kelly fraction 0: nothing to size"
    elif np.any(start <= 0):
        blocked = "kelly_bankroll"
        note = "holdings already risk the whole Kelly bankroll in some outcome: no more buying"
    elif budget <= 0:
        blocked, note = budget_reason, f"no room under the {budget_reason} limit"
    else:
        solver.run()
    return _plan(solver, legs, fees, pays, prob, held_counts, kelly_bankroll, budget_reason, blocked, note)


class _Ascent:
    """Integer ascent of ``Σ_b prob_b · log W_b`` over the contracts ``n_j`` each leg buys."""

    def __init__(
        self,
        legs: list[_Leg],
        pays: np.ndarray,
        prob: np.ndarray,
        start: np.ndarray,
        budget: int,
        min_edge: float,
    ) -> None:
        self.caps = np.array([leg.cap for leg in legs], dtype=np.int64)
        width = int(self.caps.max(initial=0)) + 1
        # Padded per-leg tables, indexed by contracts bought; entries past a leg's cap are never read.
        self.cost = np.zeros((len(legs), width))
        self.collateral = np.zeros((len(legs), width), dtype=np.int64)
        for j, leg in enumerate(legs):
            self.cost[j, : leg.cap + 1] = leg.cum_ticks * float(TICK) + min_edge * np.arange(leg.cap + 1)
            self.collateral[j, : leg.cap + 1] = leg.collateral_ticks
        self.pays, self.budget = pays, budget
        self.live = prob > 0  # intervals no sample reached still must keep W > 0, but weigh nothing
        self.prob = prob[self.live]
        self.rows = np.arange(len(legs))
        self.n = np.zeros(len(legs), dtype=np.int64)
        self.wealth = start.astype(float)
        self.value = self._objective(self.wealth[None, :])[0] if np.all(start > 0) else -math.inf
        self.start_value = self.value

    def _objective(self, wealth: np.ndarray) -> np.ndarray:
        """E[log W] of each row of candidate wealths; -inf where any outcome is ruined."""
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.log(wealth[..., self.live]) @ self.prob
        return np.where(wealth.min(axis=-1) > 0, value, -math.inf)

    def spent(self, n: np.ndarray) -> int:
        return int(self.collateral[self.rows, n].sum())

    def _moves(self, sign: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The legs that can move by ``sign × step``: new counts, collateral change, wealth change."""
        new = self.n + sign * step
        legs = np.flatnonzero((new >= 0) & (new <= self.caps))
        new, old = new[legs], self.n[legs]
        dcollateral = self.collateral[legs, new] - self.collateral[legs, old]
        dcost = self.cost[legs, new] - self.cost[legs, old]
        return legs, new, dcollateral, sign * step * self.pays[legs] - dcost[:, None]

    def _step(self, step: int, pairs: bool) -> bool:
        """Take the best move of ±``step`` contracts on one leg (or on each of two), if it gains.

        Two-leg moves find what one leg alone cannot: trading budget from one leg to another when a limit
        binds, and growing both legs of a range bet when either alone would hurt one tail.
        """
        room = self.budget - self.spent(self.n)
        best, move = self.value + _TOLERANCE, None
        moves = [self._moves(sign, step) for sign in (1, -1)]
        for legs, new, dcol, dwealth in moves:
            value = self._objective(self.wealth + dwealth)
            value[dcol > room] = -math.inf
            if value.size and value.max() > best:
                k = int(np.argmax(value))
                best, move = value[k], ((legs[k], new[k]),)
        if pairs:
            # E[log W] is concave in W, so its tangent bounds any move from above: only the pairs whose
            # tangent gain clears the bar can gain at all, and only they are evaluated.
            slope = np.zeros_like(self.wealth)
            slope[self.live] = self.prob / self.wealth[self.live]
            for a, (legs_a, new_a, dcol_a, dw_a) in enumerate(moves):
                for legs_b, new_b, dcol_b, dw_b in moves[a:]:
                    bound = (dw_a @ slope)[:, None] + (dw_b @ slope)[None, :]
                    ok = (bound > best - self.value) & (dcol_a[:, None] + dcol_b[None, :] <= room)
                    x, y = np.nonzero(ok & (legs_a[:, None] != legs_b[None, :]))
                    if not x.size:
                        continue
                    value = self._objective(self.wealth + dw_a[x] + dw_b[y])
                    k = int(np.argmax(value))
                    if value[k] > best:
                        best, move = value[k], ((legs_a[x[k]], new_a[x[k]]), (legs_b[y[k]], new_b[y[k]]))
        if move is None:
            return False
        for leg, count in move:
            self.wealth = self.wealth + self.pays[leg] * (count - self.n[leg])
            self.wealth = self.wealth - (self.cost[leg, count] - self.cost[leg, self.n[leg]])
            self.n[leg] = count
        self.value = best
        return True

    def run(self) -> None:
        top = int(self.caps.max(initial=0))
        step = 1 << max(top.bit_length() - 1, 0)
        while step >= 1:
            while self._step(step, pairs=False) or self._step(step, pairs=True):
                pass
            step //= 2

    def stop_reason(self, j: int, leg: _Leg) -> str:
        """What keeps leg ``j`` from one more contract: a limit, the Kelly bankroll, or "" (the objective)."""
        if self.n[j] >= self.caps[j]:
            return leg.cap_reason
        more = self.n.copy()
        more[j] += 1
        if self.spent(more) > self.budget:
            return "budget"
        wealth = self.wealth + self.pays[j] - (self.cost[j, more[j]] - self.cost[j, self.n[j]])
        if np.any(wealth <= 0):
            return "kelly_bankroll"
        return ""


def _money(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(TICK)


def _plan(
    solver: _Ascent,
    legs: list[_Leg],
    fees: FeeSchedule,
    pays: np.ndarray,
    prob: np.ndarray,
    held_counts: np.ndarray,
    kelly_bankroll: Decimal,
    budget_reason: str,
    blocked: str,
    note: str,
) -> LadderPlan:
    out = []
    for j, leg in enumerate(legs):
        count = int(solver.n[j])
        limit = leg.limit_price(count)
        binding = blocked or solver.stop_reason(j, leg)
        out.append(
            LegPlan(
                ticker=leg.ticker,
                strike=leg.strike,
                direction=leg.direction,
                held=leg.held,
                target=leg.held + count,
                count=Decimal(count),
                limit_price=limit,
                fee_per_contract=fee_per_contract(fees, limit) if limit is not None else None,
                cost=int(leg.cum_ticks[count]) * TICK,
                collateral=int(leg.collateral_ticks[count]) * TICK,
                binding=budget_reason if binding == "budget" else binding,
            )
        )
    held_cost = sum((leg.held_cost for leg in legs), ZERO)
    new_cost = sum((leg.cost for leg in out), ZERO)
    bought = solver.n.astype(float)
    payoff = (held_counts + bought) @ pays
    expected = float(prob @ (bought @ pays)) - float(new_cost)
    growth = solver.value - solver.start_value if solver.value > -math.inf else 0.0
    return LadderPlan(
        legs=tuple(out),
        kelly_bankroll=kelly_bankroll,
        growth=float(growth),
        expected_profit=_money(expected),
        worst_profit=_money(float(payoff.min())) - held_cost - new_cost,
        note=note,
    )
