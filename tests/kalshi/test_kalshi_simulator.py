"""The simulator's exchange rules: price-time priority, fees, time in force, reservations, settlement."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsa_bot.kalshi.simulator import ApiError, EventSeed, Exchange

D = Decimal
T = "KXTSAW-26FEB15-A2.30"


def _exchange(**seed) -> Exchange:
    ex = Exchange(EventSeed(strikes=(2_300_000, 2_350_000), **seed), read_rate=1e6, write_rate=1e6)
    for name in ("alice", "bob", "carol"):
        ex.register_key(name, _PUBLIC, D(1000))
    return ex


_PUBLIC = None  # accounts used directly, without HTTP, need no key


def place(
    ex: Exchange, who: str, coid: str, side: str, price: str, count: str, tif="good_till_canceled", **kw
):
    body = {
        "ticker": T,
        "client_order_id": coid,
        "side": side,
        "price": price,
        "count": count,
        "time_in_force": tif,
        **kw,
    }
    return ex.create_order(ex.accounts[who], body)


def test_price_time_priority_fills_the_best_price_then_the_earliest():
    ex = _exchange()
    place(ex, "alice", "a1", "ask", "0.51", "5")  # inside the house's 0.52 ask
    place(ex, "bob", "b1", "ask", "0.51", "5")  # same price, later
    answer = place(ex, "carol", "c1", "bid", "0.52", "12")
    assert answer["fill_count"] == "12.00" and answer["average_fill_price"] == "0.5117"  # (10*.51+2*.52)/12
    alice, bob = ex.accounts["alice"], ex.accounts["bob"]
    assert alice.orders[0].status == "executed" and bob.orders[0].status == "executed"
    assert alice.positions[T].position == -5 and ex.accounts["carol"].positions[T].position == 12
    # The house's 0.52 level lost 2 contracts.
    assert ex.orderbook_json(ex.markets[T], None)["orderbook_fp"]["no_dollars"][-1] == ["0.4800", "48.00"]


def test_partial_fill_rests_the_remainder_and_reserves_its_collateral():
    ex = _exchange(depth=D(5), levels=1)
    answer = place(ex, "alice", "a1", "bid", "0.52", "8")
    assert (answer["fill_count"], answer["remaining_count"]) == ("5.00", "3.00")
    alice = ex.accounts["alice"]
    assert alice.reserved == D("1.56")  # 3 x 0.52
    fee = D("0.0874")  # ceil(0.07 * 5 * 0.52 * 0.48, 0.0001)
    assert alice.cash == 1000 - 5 * D("0.52") - fee


def test_immediate_or_cancel_and_fill_or_kill():
    ex = _exchange(depth=D(5), levels=1)
    ioc = place(ex, "alice", "a1", "bid", "0.52", "8", tif="immediate_or_cancel")
    assert (ioc["fill_count"], ioc["remaining_count"]) == ("5.00", "0.00")
    assert ex.accounts["alice"].orders[0].status == "canceled" and ex.accounts["alice"].reserved == 0
    with pytest.raises(ApiError) as info:
        place(ex, "bob", "b1", "ask", "0.48", "6", tif="fill_or_kill")
    assert info.value.body["error"]["code"] == "invalid_order"
    assert "b1" not in ex.accounts["bob"].client_order_ids  # a rejected order does not burn its id


def test_self_trade_prevention_cancels_the_taker():
    ex = _exchange()
    place(ex, "alice", "a1", "ask", "0.50", "5")
    answer = place(ex, "alice", "a2", "bid", "0.51", "5")
    assert answer["fill_count"] == "0.00"
    assert ex.accounts["alice"].orders[1].status == "canceled"


def test_maker_fees_only_on_series_with_maker_fees():
    for fee_type, maker_fee in (("quadratic", D("0")), ("quadratic_with_maker_fees", D("0.0875"))):
        ex = _exchange(fee_type=fee_type)
        place(ex, "alice", "a1", "bid", "0.50", "20")  # rests at the top of the book
        place(ex, "bob", "b1", "ask", "0.50", "20")
        alice, bob = ex.accounts["alice"].orders[0], ex.accounts["bob"].orders[0]
        assert alice.maker_fees == maker_fee  # ceil(0.0175 * 20 * 0.25, 0.0001)
        assert bob.taker_fees == D("0.35")  # 0.07 * 20 * 0.25


def test_fee_multiplier_scales_fees():
    ex = _exchange(fee_multiplier=D("0.5"))
    place(ex, "alice", "a1", "bid", "0.52", "1")
    assert ex.accounts["alice"].orders[0].taker_fees == D("0.0088")  # ceil(0.008736)


def test_closing_a_position_releases_cash_and_books_realised_pnl():
    ex = _exchange()
    place(ex, "alice", "a1", "bid", "0.52", "10")  # buy YES at 0.52
    place(ex, "alice", "a2", "ask", "0.48", "10")  # sell it back at the house bid 0.48
    pos = ex.accounts["alice"].positions[T]
    assert pos.position == 0 and pos.cost == 0 and pos.realized == D("-0.40")
    assert ex.accounts["alice"].cash == 1000 - D("0.40") - 2 * D("0.1748")


def test_settlement_pays_yes_and_no_holders_and_cancels_resting_orders():
    ex = _exchange()
    place(ex, "alice", "a1", "bid", "0.52", "10")
    place(ex, "bob", "b1", "ask", "0.48", "4")  # NO at 0.52
    place(ex, "carol", "c1", "bid", "0.30", "10")  # rests
    ex.settle("KXTSAW-26FEB15", 2_300_000)  # equal is not strictly above: NO
    market = ex.markets[T]
    assert (market.result, market.status, market.bids, market.asks) == ("no", "finalized", [], [])
    alice, bob, carol = (ex.accounts[n] for n in ("alice", "bob", "carol"))
    assert alice.settlements[0]["revenue"] == 0 and bob.settlements[0]["revenue"] == 400
    assert bob.cash == 1000 - 4 * D("0.52") - D("0.0699") + 4
    assert carol.reserved == 0 and carol.cash == 1000
    with pytest.raises(ApiError):
        place(ex, "carol", "c2", "bid", "0.30", "1")


def test_seeded_books_follow_the_configured_mids_and_stay_inside_the_grid():
    ex = Exchange(EventSeed(strikes=(1_800_000, 2_800_000), mids={1_800_000: D("0.99")}))
    low = ex.orderbook_json(ex.markets["KXTSAW-26FEB15-A1.80"], None)["orderbook_fp"]
    assert [lv[0] for lv in low["yes_dollars"]] == ["0.9500", "0.9600", "0.9700"]
    assert low["no_dollars"] == []  # asks at 1.01+ do not exist
    high = ex.markets["KXTSAW-26FEB15-A2.80"]
    assert high.best("bid").price == D("0.01") and high.best("ask").price == D("0.05")


_orders = st.lists(
    st.tuples(
        st.sampled_from(["alice", "bob"]),
        st.sampled_from(["bid", "ask"]),
        st.integers(1, 99),  # cents
        st.integers(1, 30),
        st.sampled_from(["good_till_canceled", "immediate_or_cancel"]),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(orders=_orders, value=st.sampled_from([2_250_000, 2_300_000, 2_350_000]))
def test_accounting_conserves_money_and_matches_the_pnl_formula(orders, value):
    """Two accounts trade only with each other: after settlement all money is still there, less fees,
    and each account's cash change equals the P&L the warehouse computes from its fills."""
    from tsa_bot.trading.book import position_pnl

    ex = Exchange(EventSeed(strikes=(2_300_000,), levels=0), read_rate=1e6, write_rate=1e6)
    for name in ("alice", "bob"):
        ex.register_key(name, _PUBLIC, D(100))
    for i, (who, side, cents, count, tif) in enumerate(orders):
        try:
            place(ex, who, f"o{i}", side, f"0.{cents:02d}", str(count), tif=tif)
        except ApiError as err:
            assert err.body["error"]["code"] == "insufficient_balance"
        for account in ex.accounts.values():
            assert account.reserved >= 0 and account.cash - account.reserved >= 0
    ex.settle("KXTSAW-26FEB15", value)
    result = ex.markets[T].result
    fees = sum((D(f["fee_cost"]) for a in ex.accounts.values() for f in a.fills), D(0))
    assert sum((a.cash for a in ex.accounts.values()), D(0)) == 200 - fees
    for account in ex.accounts.values():
        assert account.reserved == 0
        fills = [
            {
                "count": D(f["count_fp"]),
                "yes_price": D(f["yes_price_dollars"]),
                "book_side": f["side"],
                "fee": D(f["fee_cost"]),
            }
            for f in account.fills
        ]
        assert account.cash - 100 == position_pnl(fills, result)["pnl"]


def test_tick_grid_with_finer_steps_near_the_edges():
    from tsa_bot.kalshi.models import PriceRange

    tapered = (
        PriceRange(D("0"), D("0.10"), D("0.001")),
        PriceRange(D("0.10"), D("0.90"), D("0.01")),
        PriceRange(D("0.90"), D("1"), D("0.001")),
    )
    ex = _exchange(price_ranges=tapered)
    assert place(ex, "alice", "fine", "bid", "0.055", "1")["remaining_count"] == "1.00"
    assert place(ex, "alice", "edge", "bid", "0.995", "1")["fill_count"] == "1.00"
    for i, bad in enumerate(["0.555", "0.0005", "1.0000"]):
        with pytest.raises(ApiError) as info:
            place(ex, "alice", f"bad{i}", "bid", bad, "1")
        assert info.value.body["error"]["code"] == "invalid_price"
