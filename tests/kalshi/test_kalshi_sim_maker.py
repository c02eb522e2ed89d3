"""Maker execution against the simulator over real HTTP: post-only orders, crowd fills of resting orders,
amend and decrease (queue priority, reservations, ids), lost answers, and expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from kalshi_testkit import FAST_RETRY, KEY_ID
from spec_shapes import check

from tsa_bot.kalshi.client import KalshiClient, ReadOnlyClientError
from tsa_bot.kalshi.errors import (
    DuplicateOrder,
    InsufficientBalance,
    InvalidPrice,
    KalshiNotFound,
    KalshiRequestError,
)
from tsa_bot.kalshi.models import AmendRequest, OrderRequest
from tsa_bot.kalshi_sim import EventSeed, running_simulator
from tsa_bot.kalshi_sim.errors import ApiError
from tsa_bot.kalshi_sim.orders import validate_amend, validate_decrease

D = Decimal
T = "KXTSAW-26FEB15-A2.30"  # house book: YES bid 0.48, ask 0.52, 3 levels of 50


def bid(coid: str, price: str = "0.50", count: str = "10", **kw) -> OrderRequest:
    return OrderRequest(T, coid, "bid", D(count), D(price), post_only=kw.pop("post_only", True), **kw)


def amend(coid: str, new: str, price: str, count: str, book_side: str = "bid") -> AmendRequest:
    return AmendRequest(T, book_side, coid, new, D(price), D(count))


def crowd(sim, yes_price: str, count: str | None = None) -> list[dict]:
    body = {"ticker": T, "yes_price": yes_price, **({"count": count} if count else {})}
    answer = sim.admin("POST", "/sim/crowd/trade", body)
    assert answer.status_code == 200, answer.text
    return answer.json()["fills"]


def reserved(sim) -> Decimal:
    return sim.exchange.accounts[KEY_ID].reserved


def amends_sent(sim) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path.endswith("/amend"))


# ---- the amend body (unit) ------------------------------------------------------------------------------


def test_a_bid_amends_as_buy_yes_and_an_ask_as_buy_no_at_one_minus_the_price():
    assert amend("a", "b", "0.47", "9").to_json() == {
        "ticker": T,
        "side": "yes",
        "action": "buy",
        "client_order_id": "a",
        "updated_client_order_id": "b",
        "yes_price_dollars": "0.4700",
        "count_fp": "9.00",
    }
    ask = amend("a", "b", "0.53", "2.5", book_side="ask").to_json()
    assert (ask["side"], ask["action"], ask["no_price_dollars"], ask["count_fp"]) == (
        "no",
        "buy",
        "0.4700",
        "2.50",
    )
    assert "yes_price_dollars" not in ask
    with pytest.raises(ValueError, match="book_side must be bid or ask"):
        amend("a", "b", "0.5", "1", book_side="yes")


@pytest.mark.parametrize(("book_side", "price"), [("bid", "0.47"), ("ask", "0.53"), ("ask", "0.0100")])
def test_the_simulator_reads_the_amend_body_back_onto_the_same_side_and_price(book_side, price):
    body = amend("a", "b", price, "9", book_side=book_side).to_json()
    check("AmendOrderRequest", body)  # the spec's own schema
    read = validate_amend(body)
    assert (read["book_side"], read["price"], read["count"]) == (book_side, D(price), D(9))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"yes_price": 47}, "exactly one of"),  # alongside yes_price_dollars
        ({"yes_price_dollars": None}, "exactly one of"),
        ({"count": 8}, "count and count_fp disagree"),
        ({"count_fp": "0.00"}, "count_fp must be at least 1"),
        ({"count_fp": "1.005"}, "at most 2 decimals"),
        ({"side": "bid"}, "side must be one of yes no"),
        ({"updated_client_order_id": ""}, "updated_client_order_id"),
    ],
)
def test_a_malformed_amend_is_a_validation_error(change, says):
    body = {**amend("a", "b", "0.47", "9").to_json(), **change}
    with pytest.raises(ApiError) as info:
        validate_amend(body)
    assert info.value.status == 400 and says in str(info.value.body)


def test_cents_and_no_prices_are_read_onto_the_yes_book_and_decrease_takes_one_kind():
    body = {k: v for k, v in amend("a", "b", "0.47", "9").to_json().items() if k != "yes_price_dollars"}
    assert validate_amend({**body, "no_price": 53})["price"] == D("0.47")
    assert validate_amend({**body, "yes_price": 47, "count": 9})["count"] == 9
    assert validate_amend({**body, "yes_price": 47, "count_fp": None})["count"] is None
    check("DecreaseOrderRequest", {"reduce_to_fp": "0.00"})  # what decrease_order sends
    assert validate_decrease({"reduce_to": 0}) == ("to", 0)
    assert validate_decrease({"reduce_by_fp": "2.50"}) == ("by", D("2.5"))
    for bad in ({}, {"reduce_to": 1, "reduce_by": 1}, {"reduce_by": 0}, {"reduce_to": "1"}):
        with pytest.raises(ApiError):
            validate_decrease(bad)


# ---- post only and crowd fills ---------------------------------------------------------------------------


def test_a_crossing_post_only_order_is_refused_in_one_line_and_nothing_rests(client, sim):
    with pytest.raises(KalshiRequestError) as info:
        client.create_order(bid("po-cross", price="0.52"))
    assert (info.value.code, info.value.details) == ("invalid_order", "post only cross")
    assert "\n" not in str(info.value) and "post only cross" in str(info.value)
    assert client.orders() == [] and reserved(sim) == 0
    assert client.balance().balance_dollars == 1000


@pytest.fixture(params=["quadratic", "quadratic_with_maker_fees"])
def fee_sim(request, rsa_key) -> Iterator[tuple]:
    with running_simulator(EventSeed(fee_type=request.param), read_rate=10_000, write_rate=10_000) as sim:
        sim.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY) as c:
            yield sim, c, request.param


def test_a_resting_post_only_order_is_filled_as_maker_then_amended_after_the_partial_fill(fee_sim):
    sim, client, fee_type = fee_sim
    placed = client.create_order(bid("m-1"))
    assert (placed.fill_count, placed.remaining_count) == (0, 10) and reserved(sim) == D("5.00")

    [fill] = crowd(sim, "0.49", "4")  # the crowd moved below our 0.50 bid: 4 of it trade
    assert (fill["order_id"], fill["count_fp"], fill["yes_price_dollars"]) == (
        placed.order_id,
        "4.00",
        "0.5000",
    )
    maker_fee = D("0.0175") if fee_type == "quadratic_with_maker_fees" else D(0)  # 0.0175 × 4 × 0.5 × 0.5
    [mine] = client.fills(order_id=placed.order_id)
    assert (mine.is_taker, mine.count_fp, mine.fee_cost) == (False, 4, maker_fee)
    [order] = client.orders()
    assert (order.status, order.fill_count_fp, order.remaining_count_fp) == ("resting", 4, 6)
    assert (order.maker_fees_dollars, order.taker_fees_dollars) == (maker_fee, 0)
    assert reserved(sim) == D("3.00")
    assert client.positions().market_positions[0].position_fp == 4
    assert client.balance().balance_dollars == 1000 - D("2.00") - maker_fee - D("3.00")

    amended = client.amend_order(placed.order_id, amend("m-1", "m-2", "0.47", "9"))
    assert (amended.order_id, amended.client_order_id, amended.status) == (placed.order_id, "m-2", "resting")
    assert (amended.yes_price_dollars, amended.fill_count_fp, amended.remaining_count_fp) == (D("0.47"), 4, 5)
    assert reserved(sim) == 5 * D("0.47")  # exactly the new remaining's collateral
    assert client.balance().balance_dollars == 1000 - D("2.00") - maker_fee - 5 * D("0.47")

    # m-1 and m-2 are both spent: reusing either is a 409, and the order stays as it was.
    with pytest.raises(DuplicateOrder):
        client.amend_order(placed.order_id, amend("m-2", "m-1", "0.46", "9"))
    again = client.create_order(bid("m-2", price="0.40"))
    assert again.already_existed and again.order_id == placed.order_id
    [order] = client.orders()
    assert (order.client_order_id, order.yes_price_dollars, order.remaining_count_fp) == ("m-2", D("0.47"), 5)
    assert reserved(sim) == 5 * D("0.47")


def test_the_crowd_takes_only_orders_strictly_through_its_price_and_never_the_house(client, sim):
    low = client.create_order(bid("low", price="0.49", count="3"))
    high = client.create_order(bid("high", price="0.50", count="3"))
    ask = client.create_order(OrderRequest(T, "ask", "ask", D(2), D("0.51"), post_only=True))
    assert crowd(sim, "0.50") == []  # a bid at 0.50 is not strictly above 0.50; house levels untouched
    fills = crowd(sim, "0.495")
    assert [(f["order_id"], f["count_fp"]) for f in fills] == [(high.order_id, "3.00")]
    assert [f["order_id"] for f in crowd(sim, "0.40", "2")] == [low.order_id]  # the house's 0.48 is not taken
    assert [(f["order_id"], f["side"]) for f in crowd(sim, "0.60")] == [(ask.order_id, "ask")]
    statuses = {o.client_order_id: (o.status, o.remaining_count_fp) for o in client.orders()}
    assert statuses == {"low": ("resting", 1), "high": ("executed", 0), "ask": ("executed", 0)}
    assert reserved(sim) == D("0.49")
    pos = client.positions().market_positions[0]
    assert pos.position_fp == 5 - 2  # 3 + 2 YES bought, 2 YES sold (closing)
    book = client.orderbook(T)
    assert book.yes_bids[0].price == D("0.49") and book.yes_bids[1].price == D("0.48")
    assert book.yes_bids[1].count == 50


def test_the_crowd_trade_is_an_admin_route(client, sim):
    import httpx

    refused = httpx.post(f"{sim.root_url}/sim/crowd/trade", json={"ticker": T, "yes_price": "0.1"})
    assert refused.status_code == 401
    bad = sim.admin("POST", "/sim/crowd/trade", {"ticker": T, "yes_price": "1.5"})
    assert bad.status_code == 400 and "yes_price" in bad.text
    unknown = sim.admin("POST", "/sim/crowd/trade", {"ticker": "KXTSAW-26FEB15-A9.99", "yes_price": "0.5"})
    assert unknown.status_code == 404


# ---- amend ------------------------------------------------------------------------------------------------


def test_amending_a_post_only_order_to_a_crossing_price_is_refused_and_leaves_it(client, sim):
    placed = client.create_order(bid("x-1"))
    with pytest.raises(KalshiRequestError) as info:
        client.amend_order(placed.order_id, amend("x-1", "x-2", "0.52", "10"))
    assert (info.value.code, info.value.details) == ("invalid_order", "post only cross")
    [order] = client.orders()
    assert (order.client_order_id, order.yes_price_dollars, order.remaining_count_fp) == ("x-1", D("0.5"), 10)
    assert reserved(sim) == D("5.00")
    # The refused amend did not spend x-2.
    moved = client.amend_order(placed.order_id, amend("x-1", "x-2", "0.51", "10"))
    assert (moved.client_order_id, moved.yes_price_dollars) == ("x-2", D("0.51"))


def test_an_order_not_post_only_amended_across_the_book_takes(client, sim):
    placed = client.create_order(bid("t-1", post_only=False))
    taken = client.amend_order(placed.order_id, amend("t-1", "t-2", "0.52", "10"))
    assert (taken.status, taken.fill_count_fp, taken.remaining_count_fp) == ("executed", 10, 0)
    assert taken.taker_fees_dollars == D("0.1748")  # ceil(0.07 × 10 × 0.52 × 0.48)
    [fill] = client.fills(order_id=placed.order_id)
    assert fill.is_taker and fill.yes_price_dollars == D("0.52")
    assert reserved(sim) == 0


def test_amend_refusals(client, sim):
    placed = client.create_order(bid("r-1"))
    crowd(sim, "0.49", "4")
    with pytest.raises(KalshiRequestError, match=r"must exceed the 4\.00 contracts filled"):
        client.amend_order(placed.order_id, amend("r-1", "r-2", "0.50", "4"))
    with pytest.raises(KalshiNotFound):
        client.amend_order("00000000-0000-0000-0000-000000000000", amend("r-1", "r-2", "0.50", "8"))
    other = AmendRequest("KXTSAW-26FEB15-A2.35", "bid", "r-1", "r-2", D("0.50"), D(8))
    with pytest.raises(KalshiRequestError, match="is on"):
        client.amend_order(placed.order_id, other)
    with pytest.raises(KalshiRequestError, match="side and action"):
        client.amend_order(placed.order_id, amend("r-1", "r-2", "0.50", "8", book_side="ask"))
    with pytest.raises(KalshiRequestError, match="client_order_id is not the order's"):
        client.amend_order(placed.order_id, amend("stale", "r-2", "0.50", "8"))
    with pytest.raises(InvalidPrice):
        client.amend_order(placed.order_id, amend("r-1", "r-2", "0.505", "8"))
    with pytest.raises(InsufficientBalance):
        client.amend_order(placed.order_id, amend("r-1", "r-2", "0.50", "5000"))
    [order] = client.orders()
    assert (order.client_order_id, order.remaining_count_fp, order.yes_price_dollars) == ("r-1", 6, D("0.5"))
    assert reserved(sim) == D("3.00")
    client.cancel_order(placed.order_id)
    with pytest.raises(KalshiNotFound):  # no longer resting
        client.amend_order(placed.order_id, amend("r-1", "r-2", "0.50", "8"))


@pytest.mark.parametrize("fault", ["drop_after", "500_after"])
def test_a_lost_amend_answer_still_returns_the_amended_order_once(client, sim, fault):
    placed = client.create_order(bid("l-1"))
    sim.inject("POST", "/portfolio/orders/", fault)
    amended = client.amend_order(placed.order_id, amend("l-1", "l-2", "0.47", "8"))
    assert (amended.order_id, amended.client_order_id, amended.yes_price_dollars) == (
        placed.order_id,
        "l-2",
        D("0.47"),
    )
    assert amends_sent(sim) == 1  # the lookup found it: not sent again
    [order] = client.orders()
    assert order.remaining_count_fp == 8 and reserved(sim) == 8 * D("0.47")


def test_an_amend_resent_after_it_landed_is_answered_with_the_order_unchanged(client, sim):
    placed = client.create_order(bid("s-1"))
    sim.inject("POST", "/portfolio/orders/", "drop_after")
    sim.inject("GET", "/portfolio/orders", "500", times=50)  # every lookup fails: the client sends again
    amended = client.amend_order(placed.order_id, amend("s-1", "s-2", "0.47", "8"))
    assert amends_sent(sim) == 2
    assert (amended.client_order_id, amended.yes_price_dollars, amended.remaining_count_fp) == (
        "s-2",
        D("0.47"),
        8,
    )
    sim.exchange.faults.clear()
    assert len(client.orders()) == 1 and reserved(sim) == 8 * D("0.47")


def test_a_lost_cancel_answer_ends_cancelled_without_an_error(client, sim):
    placed = client.create_order(bid("c-1"))
    sim.inject("DELETE", "/portfolio/events/orders/", "drop_after")
    assert client.cancel_if_resting(placed.order_id) is None  # the retry found it gone
    deletes = [p for m, p in sim.requests if m == "DELETE"]
    assert len(deletes) == 2
    [order] = client.orders()
    assert (order.status, order.remaining_count_fp) == ("canceled", 0) and reserved(sim) == 0


# ---- decrease and queue priority -------------------------------------------------------------------------


def test_decrease_keeps_queue_priority_and_a_larger_amend_loses_it(client, sim):
    first = client.create_order(bid("q-1"))
    second = client.create_order(bid("q-2"))
    shrunk = client.decrease_order(first.order_id, reduce_to=D(4))
    assert (shrunk.remaining_count_fp, shrunk.status) == (4, "resting") and reserved(sim) == D("7.00")
    assert client.decrease_order(first.order_id, reduce_to=D(4)).remaining_count_fp == 4  # harmless repeat
    assert [f["order_id"] for f in crowd(sim, "0.49", "4")] == [first.order_id]  # still first in line

    third = client.create_order(bid("q-3"))  # behind q-2
    client.amend_order(second.order_id, amend("q-2", "q-2b", "0.50", "12"))  # a larger size: to the back
    assert [f["order_id"] for f in crowd(sim, "0.49", "1")] == [third.order_id]
    client.amend_order(third.order_id, amend("q-3", "q-3b", "0.50", "5"))  # a pure decrease keeps its place
    assert [f["order_id"] for f in crowd(sim, "0.49", "1")] == [third.order_id]
    remaining = {o.client_order_id: o.remaining_count_fp for o in client.orders(status="resting")}
    assert remaining == {"q-2b": 12, "q-3b": 3}
    assert reserved(sim) == 15 * D("0.50")


def test_decrease_to_zero_cancels_and_a_lost_answer_still_returns_the_order(client, sim):
    placed = client.create_order(bid("z-1"))
    sim.inject("POST", "/portfolio/orders/", "drop_after")
    gone = client.decrease_order(placed.order_id, reduce_to=D(0))
    assert (gone.order_id, gone.status, gone.remaining_count_fp) == (placed.order_id, "canceled", 0)
    assert reserved(sim) == 0
    with pytest.raises(KalshiNotFound):
        client.decrease_order(placed.order_id, reduce_to=D(0))


def test_the_read_only_client_refuses_amend_and_decrease(sim, rsa_key):
    with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, read_only=True) as paper:
        with pytest.raises(ReadOnlyClientError):
            paper.amend_order("some-order", amend("a", "b", "0.5", "1"))
        with pytest.raises(ReadOnlyClientError):
            paper.decrease_order("some-order", reduce_to=D(0))
    assert not [p for m, p in sim.requests if m == "POST"]


# ---- expiry -----------------------------------------------------------------------------------------------


def test_an_order_is_cancelled_when_its_expiration_time_passes(rsa_key):
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    with running_simulator(read_rate=10_000, write_rate=10_000, clock=clock) as sim:
        sim.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY, clock=clock) as c:
            expires = int(clock()) + 60
            with pytest.raises(KalshiRequestError, match="expiration_time must be in the future"):
                c.create_order(bid("e-0", expiration_time=int(clock()) - 1))
            timed = c.create_order(bid("e-1", expiration_time=expires))
            c.create_order(bid("e-2", price="0.49"))
            offset[0] = 55.0
            assert {o.client_order_id for o in c.orders(status="resting")} == {"e-1", "e-2"}
            offset[0] = 61.0
            assert {o.client_order_id for o in c.orders(status="resting")} == {"e-2"}
            [gone] = [o for o in c.orders() if o.order_id == timed.order_id]
            assert (gone.status, gone.remaining_count_fp) == ("canceled", 0)
            assert reserved(sim) == D("4.90") and c.orderbook(T).yes_bids[0].price == D("0.49")
            assert crowd(sim, "0.40", "1")[0]["client_order_id"] == "e-2"


def test_an_expired_order_is_never_traded_against(rsa_key):
    """Without HTTP: the exchange sweeps before it matches, whoever asks."""
    from tsa_bot.kalshi_sim import Exchange

    now = [1_771_000_000.0]
    ex = Exchange(EventSeed(strikes=(2_300_000,)), clock=lambda: now[0])
    for name in ("maker", "taker"):
        ex.register_key(name, rsa_key.public_key(), D(1000))
    body = {"ticker": T, "side": "ask", "price": "0.50", "count": "5", "post_only": True}
    ex.create_order(
        ex.accounts["maker"], {**body, "client_order_id": "m", "expiration_time": int(now[0]) + 10}
    )
    now[0] += 10
    took = ex.create_order(
        ex.accounts["taker"], {**body, "client_order_id": "t", "side": "bid", "post_only": False}
    )
    assert took["fill_count"] == "0.00" and ex.accounts["maker"].reserved == 0
    assert ex.accounts["maker"].orders[0].status == "canceled"
