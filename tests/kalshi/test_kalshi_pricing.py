"""Pricing: fees, monotone probabilities, quotes at the edges of the book, expected value, Kelly."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import Level, OrderBook
from tsa_bot.pricing.fees import FeeSchedule, round_up_to_cent, trade_fee
from tsa_bot.pricing.quotes import (
    MarketSnapshot,
    kelly_contracts,
    kelly_fraction,
    monotone_probabilities,
    price_strikes,
    quote_strike,
)

D = Decimal
QUAD = FeeSchedule("quadratic", D(1))


def book(yes_bids=(), no_bids=(), strike=2_300_000) -> OrderBook:
    levels = lambda raw: tuple(Level(D(p), D(c)) for p, c in raw)
    ticker = f"KXTSAW-26FEB15-A{strike / 1e6:.2f}"
    return OrderBook(ticker=ticker, strike=strike, yes_bids=levels(yes_bids), no_bids=levels(no_bids))


# ---- fees -------------------------------------------------------------------------------------------


def test_documented_fee_example_one_contract_at_52_cents():
    assert trade_fee(QUAD, D(1), D("0.52")) == D("0.0175")


def test_fees_round_up_per_trade_to_a_hundredth_of_a_cent():
    assert trade_fee(QUAD, D(10), D("0.52")) == D("0.1748")  # 0.17472
    assert trade_fee(QUAD, D(100), D("0.50")) == D("1.75")  # exact, no rounding
    assert round_up_to_cent(D("0.1748")) == D("0.18")


def test_maker_fees_depend_on_the_fee_type_and_the_multiplier_scales_both():
    assert trade_fee(QUAD, D(20), D("0.5"), maker=True) == 0
    maker = FeeSchedule("quadratic_with_maker_fees", D("2"))
    assert trade_fee(maker, D(20), D("0.5"), maker=True) == D("0.175")
    assert trade_fee(maker, D(1), D("0.52")) == D("0.0350")  # ceil(0.034944)


def test_unknown_fee_type_is_refused_rather_than_guessed():
    with pytest.raises(ConfigurationError, match="flat"):
        FeeSchedule("flat", D(1))


# ---- monotone probabilities --------------------------------------------------------------------------


def test_violations_are_pooled_to_their_average():
    fixed = monotone_probabilities({2_300_000: 0.90, 2_350_000: 0.95, 2_400_000: 0.50})
    assert fixed == pytest.approx({2_300_000: 0.925, 2_350_000: 0.925, 2_400_000: 0.50})


def test_monotone_input_is_unchanged_and_out_of_range_is_clipped():
    probs = {1: 0.9, 2: 0.6, 3: 0.1}
    assert monotone_probabilities(probs) == probs
    assert monotone_probabilities({1: 1.2, 2: -0.1}) == {1: 1.0, 2: 0.0}
    with pytest.raises(ValueError, match="NaN"):
        monotone_probabilities({1: float("nan")})


@given(st.dictionaries(st.integers(1_500_000, 3_200_000), st.floats(0, 1), min_size=1, max_size=30))
def test_monotone_fit_is_non_increasing_bounded_and_keeps_the_total(probs):
    fixed = monotone_probabilities(probs)
    values = [fixed[k] for k in sorted(fixed)]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(values))
    assert all(0 <= v <= 1 for v in values)
    assert sum(values) == pytest.approx(sum(probs.values()), abs=1e-9)


# ---- quotes and expected value ----------------------------------------------------------------------


def test_quote_reads_asks_from_the_other_side_and_nets_fees():
    q = quote_strike(book([("0.48", "5")], [("0.47", "7")]), 0.60, 0.60, QUAD)
    assert (q.yes_bid, q.yes_ask, q.no_bid, q.no_ask) == (D("0.48"), D("0.53"), D("0.47"), D("0.52"))
    assert (q.yes_ask_size, q.no_ask_size) == (7, 5)
    assert q.fee_yes == D("0.0175")  # ceil(0.07*0.53*0.47)
    assert q.ev_yes == D("0.60") - D("0.53") - D("0.0175")
    assert q.ev_no == D("0.40") - D("0.52") - D("0.0175")


def test_prices_at_one_cent_and_ninety_nine_cents():
    q = quote_strike(book([("0.98", "5")], [("0.01", "5")]), 0.999, 0.999, QUAD)
    assert (q.yes_ask, q.no_ask) == (D("0.99"), D("0.02"))
    assert q.fee_yes == D("0.0007")  # ceil(0.000693)
    assert q.ev_yes == D("0.999") - D("0.99") - D("0.0007")
    cheap = quote_strike(book([("0.99", "5")], [("0.00", "0")]), 0.5, 0.5, QUAD)
    assert cheap.no_ask == D("0.01") and cheap.fee_no == D("0.0007")
    assert cheap.ev_no == D("0.5") - D("0.01") - D("0.0007")


def test_empty_book_has_no_prices_and_no_expected_value():
    q = quote_strike(book(), 0.5, 0.5, QUAD)
    assert (q.yes_ask, q.no_ask, q.ev_yes, q.ev_no, q.fee_yes) == (None, None, None, None, None)
    assert "empty book" in q.note


def test_one_sided_book_prices_only_the_side_that_exists():
    q = quote_strike(book(yes_bids=[("0.40", "3")]), 0.2, 0.2, QUAD)
    assert q.yes_ask is None and q.ev_yes is None
    assert q.no_ask == D("0.60") and q.ev_no == D("0.8") - D("0.60") - D("0.0168")


def test_crossed_book_is_flagged_and_not_traded():
    q = quote_strike(book([("0.55", "5")], [("0.50", "5")]), 0.9, 0.9, QUAD)
    assert q.crossed and q.yes_ask == D("0.50") and q.ev_yes is None and q.ev_no is None
    assert "crossed" in q.note


def test_fees_can_eat_a_positive_gross_edge():
    q = quote_strike(book([("0.46", "5")], [("0.48", "5")]), 0.53, 0.53, QUAD)
    assert q.fair_yes - q.yes_ask == D("0.01")  # a cent of edge before fees...
    assert q.ev_yes < 0  # ...is gone after the 1.75-cent taker fee


def test_price_strikes_uses_the_monotone_fix_and_keeps_the_raw_value():
    snap = MarketSnapshot(
        "KXTSAW-26FEB15",
        QUAD,
        (
            book([("0.40", "1")], [("0.40", "1")], 2_350_000),
            book([("0.50", "1")], [("0.40", "1")], 2_300_000),
            book([("0.10", "1")], [("0.80", "1")], 2_400_000),
        ),
    )
    quotes = price_strikes({2_300_000: 0.50, 2_350_000: 0.60}, snap)
    assert [q.strike for q in quotes] == [2_300_000, 2_350_000, 2_400_000]
    assert quotes[0].fair_yes == quotes[1].fair_yes == D("0.55")
    assert quotes[1].raw_fair_yes == 0.60
    assert quotes[2].fair_yes is None and "no forecast" in quotes[2].note


# ---- Kelly -------------------------------------------------------------------------------------------


def test_kelly_fraction_and_contracts():
    assert kelly_fraction(D("0.6"), D("0.5")) == D("0.2")
    assert kelly_fraction(D("0.5"), D("0.5")) == 0
    assert kelly_fraction(D("0.9"), D("1")) == 0
    # quarter Kelly of $1000 at 0.50 with 20% edge: stake $50 = 100 contracts
    assert kelly_contracts(D("0.6"), D("0.5"), D("0"), D("1000"), D("0.25")) == 100
    # fees are part of the cost: the edge shrinks and so does the size
    assert kelly_contracts(D("0.6"), D("0.5"), D("0.0175"), D("1000"), D("0.25")) == 82
    assert kelly_contracts(D("0.4"), D("0.5"), D("0"), D("1000"), D("0.25")) == 0
