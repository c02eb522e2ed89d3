"""Risk limits, each one tripping; sizing under the limits; decisions and their V2 orders."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tsa_bot.core.market import Level, OrderBook
from tsa_bot.pricing.fees import FeeSchedule
from tsa_bot.pricing.quotes import MarketSnapshot, price_strikes
from tsa_bot.trading.config import RiskLimits, TradingConfig
from tsa_bot.trading.decide import client_order_id, decide
from tsa_bot.trading.risk import (
    ExposureState,
    Holding,
    OrderIntent,
    RestingOrder,
    check_order,
    largest_allowed,
)

D = Decimal
EVENT = "KXTSAW-26FEB15"
T = f"{EVENT}-A2.30"
LIMITS = RiskLimits(
    max_order_contracts=D(100),
    max_order_cost=D(60),
    max_contracts_per_market=D(150),
    max_event_exposure=D(100),
    max_total_exposure=D(200),
    max_daily_loss=D(50),
)
INTENT = OrderIntent(EVENT, T, "yes", D(10), D("0.50"), D("0.02"))  # costs 5.20
CLEAN = ExposureState(bankroll=D(1000))


def codes(intent=INTENT, state=CLEAN, limits=LIMITS) -> set[str]:
    return {v.code for v in check_order(intent, state, limits)}


def test_a_modest_order_passes():
    assert codes() == set()


def test_kill_switch_trips():
    assert codes(limits=replace(LIMITS, kill_switch=True)) == {"kill_switch"}


def test_daily_loss_trips_at_the_limit_not_before():
    assert codes(state=replace(CLEAN, realised_pnl_today=D("-49.99"))) == set()
    assert codes(state=replace(CLEAN, realised_pnl_today=D(-50))) == {"daily_loss"}


def test_largest_order_in_contracts_trips():
    assert codes(intent=replace(INTENT, count=D(101), price=D("0.10"))) == {"order_contracts"}


def test_largest_order_in_dollars_trips():
    assert codes(intent=replace(INTENT, count=D(99), price=D("0.60"))) == {"order_cost"}  # 61.38


def test_contracts_per_market_count_holdings_and_resting_orders_of_that_side():
    held = ExposureState({T: Holding(D(100), D(1))}, (RestingOrder("o", "c", T, "yes", D(41), D(0)),), D(0))
    assert codes(state=held) == {"market_contracts"}  # 100 + 41 + 10 > 150
    other_side = ExposureState({T: Holding(D(-140), D(1))})
    assert codes(state=other_side) == set()  # NO held does not count against buying YES


def test_event_exposure_trips_only_for_the_same_event():
    same = ExposureState({f"{EVENT}-A2.35": Holding(D(1), D(95))})
    assert codes(state=same) == {"event_exposure"}
    other = ExposureState({"KXTSAW-26FEB22-A2.35": Holding(D(1), D(95))})
    assert codes(state=other) == set()


def test_total_exposure_counts_resting_collateral():
    state = ExposureState(
        {"KXTSAW-26FEB22-A2.35": Holding(D(1), D(95))},
        (RestingOrder("o", "c", "KXTSAW-26MAR01-A2.35", "no", D(200), D("0.50")),),
    )
    assert codes(state=state) == {"total_exposure"}  # 95 + 100 + 5.20


def test_largest_allowed_names_the_binding_limit():
    count, binding = largest_allowed(replace(INTENT, count=D(500)), CLEAN, LIMITS)
    assert (count, binding) == (D(100), "order_contracts")
    state = ExposureState({f"{EVENT}-A2.35": Holding(D(1), D(90))})
    assert largest_allowed(INTENT, state, LIMITS) == (D(10), "")  # fits: 90 + 5.20
    assert largest_allowed(replace(INTENT, count=D(50)), state, LIMITS) == (D(19), "event_exposure")


def _snapshot(yes_bids, no_bids) -> MarketSnapshot:
    book = OrderBook(
        ticker=T,
        strike=2_300_000,
        yes_bids=tuple(Level(D(p), D(c)) for p, c in yes_bids),
        no_bids=tuple(Level(D(p), D(c)) for p, c in no_bids),
    )
    return MarketSnapshot(EVENT, FeeSchedule(), (book,))


def test_decide_buys_no_as_an_ask_on_the_yes_book_and_ids_are_deterministic():
    snap = _snapshot([("0.60", "30")], [("0.35", "30")])  # YES 0.60/0.65; NO ask 0.40
    config = TradingConfig(limits=LIMITS)
    [d] = decide("run-9", price_strikes({2_300_000: 0.30}, snap), snap, CLEAN, config)
    assert d.action == "buy_no" and d.limit_price == D("0.40")
    request = d.order_request("good_till_canceled")
    assert (request.book_side, request.price, request.count) == ("ask", D("0.60"), d.count)
    assert d.client_order_id == client_order_id("run-9", T, "no") != client_order_id("run-10", T, "no")
    [again] = decide("run-9", price_strikes({2_300_000: 0.30}, snap), snap, CLEAN, config)
    assert again.client_order_id == d.client_order_id


def test_decide_buys_only_the_gap_to_the_kelly_target():
    snap = _snapshot([("0.60", "500")], [("0.35", "500")])
    config = TradingConfig(
        limits=replace(
            LIMITS,
            max_order_cost=D(1000),
            max_event_exposure=D(1000),
            max_total_exposure=D(1000),
            max_contracts_per_market=D(1000),
            max_order_contracts=D(1000),
        )
    )
    [fresh] = decide("r", price_strikes({2_300_000: 0.30}, snap), snap, CLEAN, config)
    holding = ExposureState({T: Holding(D(-40), D(16))}, bankroll=D(1000))
    [topped] = decide("r", price_strikes({2_300_000: 0.30}, snap), snap, holding, config)
    assert fresh.kelly_contracts == topped.kelly_contracts
    assert topped.count == fresh.count - 40
    full = ExposureState({T: Holding(-fresh.kelly_contracts, D(100))}, bankroll=D(1000))
    [none] = decide("r", price_strikes({2_300_000: 0.30}, snap), snap, full, config)
    assert none.action == "none" and "Kelly target" in none.reason


@pytest.mark.parametrize("min_edge", [D("0.02"), D("0.10")])
def test_decide_stops_sweeping_where_the_edge_runs_out(min_edge):
    # YES offered at 0.50 (10), 0.55 (10), 0.60 (10); fair 0.70.
    snap = _snapshot([("0.30", "10")], [("0.50", "10"), ("0.45", "10"), ("0.40", "10")])
    [d] = decide(
        "r",
        price_strikes({2_300_000: 0.70}, snap),
        snap,
        CLEAN,
        TradingConfig(limits=LIMITS, min_edge=min_edge),
    )
    # 0.70 - 0.60 - 0.0168 = 0.083 passes 0.02 but not 0.10
    assert d.limit_price == (D("0.60") if min_edge == D("0.02") else D("0.55"))


def test_paper_exposure_counts_every_open_event_and_settled_fees_only_once():
    from tsa_bot.trading.brokers import PaperBroker

    fills = [
        {"ticker": T, "book_side": "bid", "count": D(10), "yes_price": D("0.40"), "fee": D("0.17")},
        {
            "ticker": "KXTSAW-26FEB22-A2.30",
            "book_side": "ask",
            "count": D(5),
            "yes_price": D("0.70"),
            "fee": D("0.08"),
        },
        {
            "ticker": "KXTSAW-26FEB08-A2.30",
            "book_side": "bid",
            "count": D(50),
            "yes_price": D("0.50"),
            "fee": D("0.88"),
        },  # settled: its cost and fee are already in the bankroll's P&L
    ]
    broker = PaperBroker(_snapshot([], []), FeeSchedule(), fills, {"KXTSAW-26FEB08-A2.30"}, D(1000))
    state = broker.exposure(EVENT, {})
    assert state.holdings[T] == Holding(D(10), D("4.00"))
    assert state.holdings["KXTSAW-26FEB22-A2.30"] == Holding(D(-5), D("1.50"))
    assert "KXTSAW-26FEB08-A2.30" not in state.holdings
    assert state.total_exposure() == D("5.50") and state.event_exposure(EVENT) == D("4.00")
    assert state.bankroll == D(1000) - D("5.50") - D("0.25")
