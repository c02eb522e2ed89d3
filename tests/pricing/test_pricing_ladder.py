"""Sizing one event's ladder as one bet: plain-number cases, limits, edges, holdings, and the range bet."""

from __future__ import annotations

import itertools
import math
from decimal import ROUND_CEILING, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsa_bot.kalshi.models import Level
from tsa_bot.pricing.fees import FeeSchedule, fee_per_contract
from tsa_bot.pricing.ladder import (
    Held,
    LadderError,
    LadderLimits,
    LadderStrike,
    outcome_probabilities,
    plan_ladder,
)

D = Decimal
FEES = FeeSchedule()
NO_FEES = FeeSchedule(fee_multiplier=D(0))
WIDE = LadderLimits(D(10_000), D(100_000), D(10_000), D(100_000))
CENT = D("0.01")


def ticker(strike: float) -> str:
    return f"KXTSAW-26FEB15-A{strike / 1e6:.2f}"


def leg(strike: float, yes: list[tuple[str, int]], no: list[tuple[str, int]]) -> LadderStrike:
    levels = lambda raw: tuple(Level(D(p), D(c)) for p, c in raw)
    return LadderStrike(ticker(strike), strike, levels(yes), levels(no))


def normal_samples(center: float, sd: float, n: int = 5000, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(center, sd, n)


def survival(samples: np.ndarray, strike: float) -> float:
    return float(np.mean(samples > strike))


def fair_ladder(samples: np.ndarray, strikes: list[float], markup: Decimal, size: int = 500) -> list:
    """Asks at the model's own probability plus ``markup`` on both sides (rounded up to a cent)."""
    out = []
    for k in strikes:
        p = D(repr(survival(samples, k)))
        yes = max((p + markup).quantize(CENT, rounding=ROUND_CEILING), CENT)
        no = max((1 - p + markup).quantize(CENT, rounding=ROUND_CEILING), CENT)
        # Nobody offers a contract at $1 or more: that side of the book is empty.
        out.append(leg(k, [(str(yes), size)] if yes < 1 else [], [(str(no), size)] if no < 1 else []))
    return out


def bought(plan) -> dict[tuple[float, str], Decimal]:
    return {(o.strike, o.direction): o.count for o in plan.orders}


# ---- plain numbers ------------------------------------------------------------------------------------


def test_outcome_probabilities_settle_strictly_above():
    # A mean exactly on a strike is not "above" it: it belongs to the interval below.
    probs = outcome_probabilities(np.array([2.3e6, 2.3e6, 2.35e6, 2.5e6]), np.array([2.3e6, 2.4e6]))
    assert probs.tolist() == [0.5, 0.25, 0.25]


def test_a_sure_range_is_bought_to_the_order_limit_on_both_legs_and_nothing_else():
    # Every sample lies between 2.30 M and 2.40 M: YES 2.30 + NO 2.40 cost $1 and pay $2.
    samples = np.full(1000, 2.35e6)
    ladder = [
        leg(2.30e6, [("0.50", 100)], [("0.99", 100)]),
        leg(2.40e6, [("0.99", 100)], [("0.50", 100)]),
    ]
    limits = LadderLimits(D(10), D(100), D(50), D(100))
    plan = plan_ladder(samples, ladder, NO_FEES, bankroll=D(1000), kelly_fraction=D("0.5"), limits=limits)
    assert bought(plan) == {(2.30e6, "yes"): D(10), (2.40e6, "no"): D(10)}
    assert all(o.binding == "order_contracts" for o in plan.orders)
    assert plan.orders[0].reason == (
        "joint ladder bet: target 10 YES, holding 0, buying 10 up to 0.50; stopped by order_contracts"
    )
    assert [o.limit_price for o in plan.orders] == [D("0.50"), D("0.50")]
    assert plan.worst_profit == D(0)  # $10 for 10 pairs that pay at least $1 each
    assert plan.expected_profit == D(10)


def test_an_outcome_no_sample_reached_still_bounds_the_loss_by_the_kelly_bankroll():
    # Every sample says YES 2.30 wins, but a mean at or below 2.30 M is possible: the sub-bankroll of
    # 0.1 × $1000 must survive it, so at most 199 contracts at $0.50 (200 would lose all $100).
    samples = np.full(1000, 2.35e6)
    ladder = [leg(2.30e6, [("0.50", 100_000)], [])]
    plan = plan_ladder(samples, ladder, NO_FEES, bankroll=D(1000), kelly_fraction=D("0.1"), limits=WIDE)
    (order,) = plan.orders
    assert (order.count, order.binding) == (D(199), "kelly_bankroll")
    assert plan.worst_profit == D("-99.50")


def test_the_order_walks_the_book_and_limits_count_it_at_its_limit_price():
    samples = np.full(100, 2.35e6)  # YES 2.30 is sure to win
    ladder = [leg(2.30e6, [("0.60", 3), ("0.70", 4), ("0.95", 100)], [])]
    plan = plan_ladder(
        samples,
        ladder,
        FEES,
        bankroll=D(1000),
        kelly_fraction=D(1),
        limits=LadderLimits(D(7), D(50), D(50), D(50)),
    )
    (order,) = plan.orders
    fee60, fee70 = fee_per_contract(FEES, D("0.60")), fee_per_contract(FEES, D("0.70"))
    assert (order.count, order.limit_price, order.fee_per_contract) == (D(7), D("0.70"), fee70)
    assert order.cost == 3 * (D("0.60") + fee60) + 4 * (D("0.70") + fee70)
    assert order.collateral == 7 * (D("0.70") + fee70)


def test_kelly_on_the_sub_bankroll_matches_the_single_bet_formula():
    # One contract type, no limits in the way: E[log] on f × bankroll gives f·(p − c)/(1 − c) of it.
    samples = np.array([2.35e6] * 60 + [2.25e6] * 40)  # P(YES) = 0.6
    ladder = [leg(2.30e6, [("0.40", 10_000)], [])]
    plan = plan_ladder(samples, ladder, NO_FEES, bankroll=D(1000), kelly_fraction=D("0.25"), limits=WIDE)
    stake = 0.25 * 1000 * (0.6 - 0.4) / (1 - 0.4)
    assert abs(float(plan.orders[0].count) - stake / 0.4) <= 1
    assert plan.kelly_bankroll == D(250)


def test_holdings_count_in_the_sub_bankroll_and_the_event_limit():
    samples = np.full(100, 2.35e6)
    ladder = [leg(2.30e6, [("0.50", 1000)], [])]
    held = {(ticker(2.30e6), "yes"): Held(D(100), D(55))}
    limits = LadderLimits(D(1000), D(1000), D(1000), D(80))
    plan = plan_ladder(
        samples, ladder, NO_FEES, bankroll=D(100), kelly_fraction=D(1), limits=limits, held=held
    )
    (order,) = plan.orders
    # $80 of event exposure less the $55 held leaves $25: 50 contracts at 0.50.
    assert (order.count, order.target, order.binding) == (D(50), D(150), "event_exposure")
    assert plan.kelly_bankroll == D(155)


def test_holding_yes_low_makes_no_high_a_range_not_a_second_bet():
    # YES 2.30 held: the low tail already loses it, and NO 2.40 pays there. The joint sizing buys
    # more NO 2.40 than it would with nothing held, because the two together are one range.
    samples = normal_samples(2.35e6, 0.03e6)
    ladder = [leg(2.30e6, [], []), leg(2.40e6, [], [("0.80", 10_000)])]
    held = {(ticker(2.30e6), "yes"): Held(D(100), D(80))}
    alone = plan_ladder(samples, ladder, NO_FEES, bankroll=D(1000), kelly_fraction=D("0.1"), limits=WIDE)
    paired = plan_ladder(
        samples, ladder, NO_FEES, bankroll=D(920), kelly_fraction=D("0.1"), limits=WIDE, held=held
    )
    assert bought(paired)[(2.40e6, "no")] > bought(alone)[(2.40e6, "no")] > 0


def test_a_clear_range_bet_is_found_as_yes_low_and_no_high_and_sized_as_one():
    # The model is concentrated between 2.30 M and 2.40 M; the market sells both tails cheaply and
    # prices every other strike at the model's own probability plus a spread.
    samples = normal_samples(2.35e6, 0.03e6)
    strikes = [2.20e6, 2.25e6, 2.30e6, 2.35e6, 2.40e6, 2.45e6, 2.50e6]
    ladder = fair_ladder(samples, strikes, D("0.03"))
    ladder[2] = leg(2.30e6, [("0.80", 10_000)], [("0.30", 10_000)])
    ladder[4] = leg(2.40e6, [("0.30", 10_000)], [("0.80", 10_000)])
    plan = plan_ladder(samples, ladder, FEES, bankroll=D(1000), kelly_fraction=D("0.1"), limits=WIDE)
    assert set(bought(plan)) == {(2.30e6, "yes"), (2.40e6, "no")}
    # Each leg alone (the other not offered) is sized smaller: the range's tails offset each other.
    only_low = [*ladder[:4], leg(2.40e6, [], []), *ladder[5:]]
    only_high = [*ladder[:2], leg(2.30e6, [], []), *ladder[3:]]
    low = plan_ladder(samples, only_low, FEES, bankroll=D(1000), kelly_fraction=D("0.1"), limits=WIDE)
    high = plan_ladder(samples, only_high, FEES, bankroll=D(1000), kelly_fraction=D("0.1"), limits=WIDE)
    assert bought(plan)[(2.30e6, "yes")] > bought(low)[(2.30e6, "yes")] > 0
    assert bought(plan)[(2.40e6, "no")] > bought(high)[(2.40e6, "no")] > 0
    assert plan.worst_profit > -plan.kelly_bankroll


def test_more_samples_do_not_change_a_well_determined_answer():
    strikes = [2.20e6, 2.25e6, 2.30e6, 2.35e6, 2.40e6, 2.45e6, 2.50e6]
    limits = LadderLimits(D(40), D(30), D(60), D(150))
    plans = []
    for n, seed in ((2000, 1), (20_000, 2)):
        samples = normal_samples(2.35e6, 0.03e6, n, seed)
        ladder = fair_ladder(normal_samples(2.35e6, 0.03e6, 200_000, 99), strikes, D("0.03"))
        ladder[2] = leg(2.30e6, [("0.80", 10_000)], [("0.30", 10_000)])
        ladder[4] = leg(2.40e6, [("0.30", 10_000)], [("0.80", 10_000)])
        plans.append(
            plan_ladder(samples, ladder, FEES, bankroll=D(1000), kelly_fraction=D("0.25"), limits=limits)
        )
    assert plans[0].targets == plans[1].targets
    assert bought(plans[0]) == {(2.30e6, "yes"): D(36), (2.40e6, "no"): D(36)}


def test_kelly_fraction_zero_and_no_room_buy_nothing_and_say_why():
    samples = np.full(100, 2.35e6)
    ladder = [leg(2.30e6, [("0.50", 100)], [])]
    zero = plan_ladder(samples, ladder, FEES, bankroll=D(1000), kelly_fraction=D(0), limits=WIDE)
    assert zero.orders == () and zero.legs[0].binding == "kelly_fraction"
    held = {(ticker(2.30e6), "yes"): Held(D(10), D(5))}
    full = plan_ladder(
        samples,
        ladder,
        FEES,
        bankroll=D(1000),
        kelly_fraction=D(1),
        limits=LadderLimits(D(100), D(100), D(100), D(5)),
        held=held,
    )
    assert full.orders == () and "event_exposure" in full.note


def test_an_empty_ladder_plans_nothing():
    plan = plan_ladder([2.35e6], [], FEES, bankroll=D(1000), kelly_fraction=D(1), limits=WIDE)
    assert (plan.legs, plan.orders, plan.growth, plan.expected_profit) == ((), (), 0.0, D(0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"samples": [float("nan")]}, "NaN"),
        ({"samples": []}, "no forecast samples"),
        ({"ladder": [leg(2.3e6, [("0.12345", 1)], [])]}, "multiple of $0.0001"),
        ({"ladder": [leg(2.3e6, [("1.00", 1)], [])]}, "between 0 and 1"),
        ({"held": {("KXTSAW-OTHER", "yes"): Held(D(1), D(1))}}, "not a side of a market"),
        ({"kelly_fraction": D(2)}, "kelly_fraction"),
        ({"ladder": [leg(2.3e6, [("0.50", 1)], [])] * 2}, "twice"),
    ],
)
def test_bad_input_is_a_one_line_ladder_error(kwargs, message):
    args = {
        "samples": [2.35e6],
        "ladder": [leg(2.3e6, [("0.50", 1)], [])],
        "held": None,
        "kelly_fraction": D("0.25"),
    }
    args.update(kwargs)
    with pytest.raises(LadderError, match=message.replace("$", r"\$")):
        plan_ladder(
            args["samples"],
            args["ladder"],
            FEES,
            bankroll=D(100),
            kelly_fraction=args["kelly_fraction"],
            limits=WIDE,
            held=args["held"],
        )


def test_a_negative_limit_is_refused():
    with pytest.raises(LadderError, match="max_order_cost"):
        LadderLimits(D(1), D(-1), D(1), D(1))


# ---- properties ---------------------------------------------------------------------------------------

STRIKES = [2.20e6, 2.25e6, 2.30e6, 2.35e6, 2.40e6, 2.45e6]
prices = st.integers(1, 99).map(lambda c: D(c) / 100)
books = st.lists(st.tuples(prices, st.integers(0, 40)), max_size=3)


@st.composite
def ladders(draw, single_level: bool = False):
    count = draw(st.integers(1, len(STRIKES)))
    strikes = STRIKES[:count]
    book = st.lists(st.tuples(prices, st.integers(0, 40)), max_size=1) if single_level else books
    out = []
    for k in strikes:
        yes, no = draw(book), draw(book)
        out.append(
            LadderStrike(
                ticker(k), k, tuple(Level(p, D(c)) for p, c in yes), tuple(Level(p, D(c)) for p, c in no)
            )
        )
    return out


@st.composite
def forecasts(draw):
    center = draw(st.floats(2.15e6, 2.5e6))
    sd = draw(st.floats(0.005e6, 0.1e6))
    return normal_samples(center, sd, 400, draw(st.integers(0, 1000)))


limit_sets = st.builds(
    LadderLimits,
    st.integers(0, 60).map(D),
    st.integers(0, 40).map(D),
    st.integers(0, 80).map(D),
    st.integers(0, 120).map(D),
    st.one_of(st.none(), st.integers(0, 100).map(D)),
)


@st.composite
def holdings(draw, ladder):
    out = {}
    for s in ladder:
        for side in ("yes", "no"):
            if draw(st.booleans()):
                count = draw(st.integers(0, 50))
                out[(s.ticker, side)] = Held(D(count), D(count) * draw(prices))
    return out


@settings(max_examples=150, deadline=None)
@given(st.data(), forecasts(), ladders(), limit_sets, st.integers(0, 2000), st.integers(0, 100))
def test_sizing_never_breaches_a_limit(data, samples, ladder, limits, bankroll, fraction):
    held = data.draw(holdings(ladder))
    plan = plan_ladder(
        samples,
        ladder,
        FEES,
        bankroll=D(bankroll),
        kelly_fraction=D(fraction) / 100,
        limits=limits,
        held=held,
    )
    assert plan == plan_ladder(
        samples,
        ladder,
        FEES,
        bankroll=D(bankroll),
        kelly_fraction=D(fraction) / 100,
        limits=limits,
        held=held,
    )
    books = {s.ticker: s for s in ladder}
    held_cost = sum((h.cost for h in held.values()), D(0))
    for order in plan.orders:
        h = held.get((order.ticker, order.direction), Held(D(0), D(0)))
        asks = books[order.ticker].yes_asks if order.direction == "yes" else books[order.ticker].no_asks
        assert order.count == order.count.to_integral_value() and order.count > 0
        assert order.target == h.count + order.count
        assert order.count <= limits.max_order_contracts
        assert order.collateral == order.count * (
            order.limit_price + fee_per_contract(FEES, order.limit_price)
        )
        assert order.collateral <= limits.max_order_cost
        assert order.target <= limits.max_contracts_per_market
        assert order.count <= sum(lv.count for lv in asks if lv.price <= order.limit_price)
        assert order.cost <= order.collateral
    if plan.orders:
        new = sum(o.collateral for o in plan.orders)
        assert held_cost + new <= limits.max_event_exposure
        assert limits.max_new_cost is None or new <= limits.max_new_cost
        assert plan.worst_profit > -plan.kelly_bankroll
        assert plan.growth > 0


@settings(max_examples=100, deadline=None)
@given(forecasts(), st.integers(1, len(STRIKES)), st.integers(0, 3), st.sampled_from([FEES, NO_FEES]))
def test_with_zero_edge_it_buys_nothing(samples, count, markup, fees):
    # Asks at (at least) the model's own probability: no portfolio of them has a positive expectation.
    ladder = fair_ladder(samples, STRIKES[:count], D(markup) / 100)
    plan = plan_ladder(samples, ladder, fees, bankroll=D(1000), kelly_fraction=D(1), limits=WIDE)
    assert plan.orders == ()


def cheapest_losing_price(prob: float) -> tuple[Level, ...]:
    """An ask at the lowest cent price whose fee eats the edge (price + fee >= prob); none if no price can."""
    for cents in range(1, 100):
        price = D(cents) / 100
        if price + fee_per_contract(FEES, price) >= D(repr(prob)):
            return (Level(price, D(500)),)
    return ()


@settings(max_examples=100, deadline=None)
@given(forecasts(), st.integers(1, len(STRIKES)))
def test_with_fees_above_the_edge_it_buys_nothing(samples, count):
    ladder = []
    for k in STRIKES[:count]:
        p = survival(samples, k)
        ladder.append(LadderStrike(ticker(k), k, cheapest_losing_price(p), cheapest_losing_price(1 - p)))
    assert any(s.yes_asks or s.no_asks for s in ladder)
    plan = plan_ladder(samples, ladder, FEES, bankroll=D(1000), kelly_fraction=D(1), limits=WIDE)
    assert plan.orders == ()


def consumed(ladder: list[LadderStrike], plan) -> list[LadderStrike]:
    """The books after the plan's orders filled: each order took its contracts from the cheapest levels."""
    take = {(o.ticker, o.direction): int(o.count) for o in plan.orders}
    out = []
    for s in ladder:
        sides = []
        for side, asks in (("yes", s.yes_asks), ("no", s.no_asks)):
            left, levels = take.get((s.ticker, side), 0), []
            for lv in sorted(asks, key=lambda lv: lv.price):
                used = min(left, int(lv.count))
                left -= used
                levels.append(Level(lv.price, lv.count - used))
            sides.append(tuple(levels))
        out.append(LadderStrike(s.ticker, s.strike, *sides))
    return out


@settings(max_examples=100, deadline=None)
@given(st.data(), forecasts(), ladders(single_level=True), st.integers(0, 80), st.integers(0, 300))
def test_holdings_already_at_target_give_no_order(data, samples, ladder, per_market, event):
    # Per-order limits as large as the position limit: a second order would otherwise be allowed.
    limits = LadderLimits(D(per_market), D(10_000), D(per_market), D(event))
    held = data.draw(holdings(ladder))
    first = plan_ladder(
        samples, ladder, FEES, bankroll=D(1000), kelly_fraction=D("0.3"), limits=limits, held=held
    )
    after = dict(held)
    for o in first.orders:
        before = held.get((o.ticker, o.direction), Held(D(0), D(0)))
        after[(o.ticker, o.direction)] = Held(o.target, before.cost + o.cost)
    spent = sum((o.cost for o in first.orders), D(0))
    again = plan_ladder(
        samples,
        consumed(ladder, first),
        FEES,
        bankroll=D(1000) - spent,
        kelly_fraction=D("0.3"),
        limits=limits,
        held=after,
    )
    assert again.orders == ()
    assert {k: v for k, v in again.targets.items()} == {k: v for k, v in first.targets.items()}


def legs_by_hand(samples, ladder, fees):
    """Per side of each market: the cost of its first n contracts, and where one contract pays.

    The points are the samples and then one point in every interval between strikes: each interval must
    keep some wealth, whether or not a sample fell in it.
    """
    strikes = sorted(s.strike for s in ladder)
    corners = [strikes[0] - 1, *((a + b) / 2 for a, b in itertools.pairwise(strikes)), strikes[-1] + 1]
    points = np.concatenate([samples, corners])
    out = []
    for s in ladder:
        for side, asks in (("yes", s.yes_asks), ("no", s.no_asks)):
            units = sorted(
                lv.price + fee_per_contract(fees, lv.price) for lv in asks for _ in range(int(lv.count))
            )
            costs = [sum(units[:n], D(0)) for n in range(len(units) + 1)]
            wins = points > s.strike if side == "yes" else points <= s.strike
            out.append((costs, wins))
    return out


def log_wealth(legs, base: float, counts, n_samples: int) -> float:
    wealth = base + sum(n * wins - float(costs[n]) for n, (costs, wins) in zip(counts, legs, strict=True))
    return float(np.mean(np.log(wealth[:n_samples]))) if wealth.min() > 0 else -math.inf


def best_by_hand(samples, ladder, bankroll, limits, counts_found):
    """The best E[log W] over every combination of counts the limits allow, and that of ``counts_found``.

    Also the best over the ±1 neighbours of ``counts_found`` (one or two sides moved).
    """
    legs = legs_by_hand(samples, ladder, FEES)
    asks = [asks for s in ladder for asks in (s.yes_asks, s.no_asks)]
    base = bankroll * 0.5

    def collateral(counts) -> Decimal:
        total = D(0)
        for n, side in zip(counts, asks, strict=True):
            if n:
                price = sorted(lv.price for lv in side for _ in range(int(lv.count)))[n - 1]
                total += n * (price + fee_per_contract(FEES, price))
        return total

    def allowed(counts) -> bool:
        caps = [min(int(limits.max_order_contracts), len(costs) - 1) for costs, _ in legs]
        in_box = all(0 <= n <= cap for n, cap in zip(counts, caps, strict=True))
        return in_box and collateral(counts) <= limits.max_event_exposure

    def value(counts) -> float:
        return log_wealth(legs, base, counts, len(samples))

    caps = [min(int(limits.max_order_contracts), len(costs) - 1) for costs, _ in legs]
    best = max(value(c) for c in itertools.product(*(range(cap + 1) for cap in caps)) if allowed(c))
    neighbours = []
    for i, j in itertools.product(range(len(legs)), repeat=2):
        for di, dj in itertools.product((-1, 0, 1), repeat=2):
            moved = list(counts_found)
            moved[i] += di
            moved[j] += dj if j != i else 0
            if allowed(moved):
                neighbours.append(value(moved))
    return best, value(counts_found), max(neighbours)


def small_ladder(raw) -> list[LadderStrike]:
    return [
        LadderStrike(
            ticker(k), k, tuple(Level(p, D(c)) for p, c in yes), tuple(Level(p, D(c)) for p, c in no)
        )
        for k, (yes, no) in zip((2.30e6, 2.40e6), raw, strict=True)
    ]


@settings(max_examples=40, deadline=None)
@given(forecasts(), st.lists(st.tuples(books, books), min_size=2, max_size=2), st.integers(20, 300))
def test_the_ascent_finds_the_best_small_ladder(samples, raw, bankroll):
    # Two strikes, at most 6 contracts a side, no shared limit in the way: every combination is tried.
    ladder = small_ladder(raw)
    limits = LadderLimits(D(6), D(1000), D(6), D(1000))
    plan = plan_ladder(samples, ladder, FEES, bankroll=D(bankroll), kelly_fraction=D("0.5"), limits=limits)
    best, found, _ = best_by_hand(samples, ladder, bankroll, limits, [int(leg.count) for leg in plan.legs])
    assert found == pytest.approx(best, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    forecasts(),
    st.lists(st.tuples(books, books), min_size=2, max_size=2),
    st.integers(20, 300),
    st.integers(0, 12),
)
def test_under_a_binding_event_limit_no_one_contract_change_improves(samples, raw, bankroll, event_limit):
    # A binding shared limit makes this a knapsack (limit prices jump between levels), so the ascent
    # promises a local optimum: no change of one contract on one or two sides does better.
    ladder = small_ladder(raw)
    limits = LadderLimits(D(6), D(1000), D(6), D(event_limit))
    plan = plan_ladder(samples, ladder, FEES, bankroll=D(bankroll), kelly_fraction=D("0.5"), limits=limits)
    best, found, neighbours = best_by_hand(
        samples, ladder, bankroll, limits, [int(leg.count) for leg in plan.legs]
    )
    assert found >= neighbours - 1e-12
    assert found <= best
