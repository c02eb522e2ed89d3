"""The crowd fills resting orders from its tape by itself, over real HTTP with the simulator's clock.

A hosted week stands open on Wednesday noon; the tests place post-only orders, move the clock past a tape
trade strictly through them and read the maker fills back through the signed client, with no admin call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest
from kalshi_testkit import FAST_RETRY, KEY_ID

from tsa_bot.core.market import NEW_YORK
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.kalshi_sim import HistorySeed, RunningSimulator, running_simulator
from tsa_bot.kalshi_sim.crowd import MarketTape
from tsa_bot.kalshi_sim.state import HOUSE

D = Decimal
WEEK = HistorySeed(date(2025, 3, 10), date(2025, 3, 10))
WEDNESDAY = datetime(2025, 3, 12, 12, 0, tzinfo=NEW_YORK).timestamp()


@dataclass
class Setup:
    sim: RunningSimulator
    client: KalshiClient
    now: list[float]  # the exchange's (and the client's) clock, moved by the test

    def at(self, t: float) -> None:
        self.now[0] = float(t)


@pytest.fixture
def week(rsa_key) -> Iterator[Setup]:
    now = [WEDNESDAY]

    def clock() -> float:
        return now[0]

    with running_simulator(history=WEEK, clock=clock, read_rate=1e6, write_rate=1e6) as sim:
        sim.register_key(KEY_ID, rsa_key.public_key(), balance=1000)
        with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, retry=FAST_RETRY, clock=clock) as c:
            yield Setup(sim, c, now)


def busiest(sim: RunningSimulator) -> tuple[str, MarketTape]:
    """The hosted market whose tape trades most after the clock (the at-the-money strike)."""
    ticker, market = max(
        sim.exchange.markets.items(),
        key=lambda kv: int((kv[1].tape.trade_ts > WEDNESDAY).sum()) if kv[1].tape is not None else -1,
    )
    assert market.tape is not None and market.status == "active"
    return ticker, market.tape


def best_bid(sim: RunningSimulator, ticker: str) -> Decimal:
    return max(o.price for o in sim.exchange.markets[ticker].bids)


def through(tape: MarketTape, after: float, price: Decimal, side: str = "bid") -> list[int]:
    """Indices of the tape's trades after ``after`` strictly through a resting order at ``price``."""
    cents = int(price * 100)
    hit = tape.trade_price < cents if side == "bid" else tape.trade_price > cents
    return [int(i) for i in np.flatnonzero((tape.trade_ts > after) & hit)]


def iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def bid(ticker: str, coid: str, price: Decimal, count: int, **kw) -> OrderRequest:
    return OrderRequest(ticker, coid, "bid", D(count), price, post_only=True, **kw)


def test_a_trade_through_a_resting_bid_fills_it_once_as_maker_at_its_price(week):
    ticker, tape = busiest(week.sim)
    price = best_bid(week.sim, ticker)  # join the house's best bid: post-only, strictly inside the offer
    first, second, *_ = through(tape, WEDNESDAY, price)
    size = int(tape.trade_size[first])
    placed = week.client.create_order(bid(ticker, "b-1", price, size + 5))
    assert week.client.fills() == []

    week.at(tape.trade_ts[first])  # the trade lands exactly now: (created, now] includes it
    [fill] = week.client.fills()
    assert (fill.order_id, fill.ticker, fill.is_taker) == (placed.order_id, ticker, False)
    # quadratic: no maker fee
    assert (fill.count_fp, fill.yes_price_dollars, fill.fee_cost) == (size, price, 0)
    assert fill.created_time == iso(tape.trade_ts[first])
    [order] = week.client.orders()
    assert (order.status, order.fill_count_fp, order.remaining_count_fp) == ("resting", size, 5)
    assert week.client.positions().market_positions[0].position_fp == size
    assert week.client.balance().balance_dollars == 1000 - (size + 5) * price  # spent + still reserved
    assert week.sim.exchange.accounts[KEY_ID].reserved == 5 * price

    # Asking again, at the same time or later but before the next trade through it, fills nothing more.
    for t in (tape.trade_ts[first], tape.trade_ts[second] - 1):
        week.at(t)
        assert len(week.client.fills()) == 1
        assert week.client.orders()[0].fill_count_fp == size

    # The next trade through it takes the rest (no more than the trade's size, never more than remains).
    week.at(tape.trade_ts[second])
    fills = week.client.fills()
    assert len(fills) == 2 and fills[0].count_fp == min(5, int(tape.trade_size[second]))
    assert fills[0].created_time == iso(tape.trade_ts[second])
    assert week.client.positions().market_positions[0].position_fp == size + fills[0].count_fp


def test_a_trade_before_the_order_was_created_never_fills_it(week):
    ticker, tape = busiest(week.sim)
    price = best_bid(week.sim, ticker)
    first, second, *_ = through(tape, WEDNESDAY, price)
    assert tape.trade_ts[second] > tape.trade_ts[first] + 1
    week.at(tape.trade_ts[first])  # the order is created at the trade's very second: not after it
    week.client.create_order(bid(ticker, "late", price, 5))
    week.at(tape.trade_ts[second] - 1)
    assert week.client.fills() == []
    assert week.client.orders()[0].remaining_count_fp == 5
    week.at(tape.trade_ts[second])
    assert [f.created_time for f in week.client.fills()] == [iso(tape.trade_ts[second])]


def test_a_trade_after_the_order_expired_never_fills_it_even_in_the_same_sweep(week):
    """Expiry and the tape are played in time order: no request between the expiry and the trade."""
    ticker, tape = busiest(week.sim)
    price = best_bid(week.sim, ticker)
    first, second, *_ = through(tape, WEDNESDAY, price)
    assert tape.trade_ts[second] > tape.trade_ts[first] + 1
    early = week.client.create_order(
        bid(ticker, "early", price, 5, expiration_time=int(tape.trade_ts[first]))
    )
    later = week.client.create_order(
        bid(ticker, "later", price, 500, expiration_time=int(tape.trade_ts[first]) + 1)
    )
    week.at(tape.trade_ts[second] + 1)  # past both expirations and both trades, in one step
    fills = week.client.fills()
    assert [f.order_id for f in fills] == [later.order_id]  # "early" expired at the first trade's second
    assert fills[0].count_fp == int(tape.trade_size[first])
    assert fills[0].created_time == iso(tape.trade_ts[first])
    status = {o.client_order_id: (o.status, o.fill_count_fp) for o in week.client.orders()}
    assert status == {
        "early": ("canceled", 0),
        "later": ("canceled", int(tape.trade_size[first])),  # its rest expired before the second trade
    }
    assert early.order_id != later.order_id
    assert week.sim.exchange.accounts[KEY_ID].reserved == 0


def test_each_trade_fills_best_price_first_then_time_and_is_used_once(week):
    ticker, tape = busiest(week.sim)
    price, cent = best_bid(week.sim, ticker), D("0.01")
    # A trade through both prices, at least 2 contracts, with nothing printed in the second before it.
    tf = next(
        i
        for i in through(tape, WEDNESDAY, price - cent)
        if tape.trade_size[i] >= 2 and tape.trade_ts[i - 1] < tape.trade_ts[i] - 1
    )
    size = int(tape.trade_size[tf])
    week.at(tape.trade_ts[tf] - 1)
    cheap = week.client.create_order(bid(ticker, "cheap", price - cent, size))  # worse price, earliest
    older = week.client.create_order(bid(ticker, "older", price, size - 1))
    newer = week.client.create_order(bid(ticker, "newer", price, size))
    week.at(tape.trade_ts[tf])
    filled = {f.order_id: f.count_fp for f in week.client.fills()}
    assert filled == {older.order_id: size - 1, newer.order_id: 1}  # the trade's size, once, best first
    assert cheap.order_id not in filled


def test_an_ask_fills_when_a_trade_goes_above_it(week):
    ticker, tape = busiest(week.sim)
    price = min(o.price for o in week.sim.exchange.markets[ticker].asks)
    first, *_ = through(tape, WEDNESDAY, price, side="ask")
    ask = week.client.create_order(OrderRequest(ticker, "ask", "ask", D(1), price, post_only=True))
    week.at(tape.trade_ts[first])
    [fill] = week.client.fills()
    assert (fill.order_id, fill.book_side, fill.is_taker) == (ask.order_id, "ask", False)
    assert (fill.count_fp, fill.yes_price_dollars) == (1, price)
    assert week.client.positions().market_positions[0].position_fp == -1


def test_house_orders_are_never_filled_from_the_tape(week):
    ticker, tape = busiest(week.sim)
    market = week.sim.exchange.markets[ticker]
    house = {o.order_id: o.remaining for o in [*market.bids, *market.asks] if o.owner == HOUSE}
    assert house
    price = best_bid(week.sim, ticker)
    mine = week.client.create_order(bid(ticker, "beside", price, 1))  # at the house's level, after it
    week.at(tape.trade_ts[-1])  # every trade of the week has printed, many through the house's levels
    assert [f.order_id for f in week.client.fills()] == [mine.order_id]
    after = {o.order_id: o.remaining for o in [*market.bids, *market.asks] if o.owner == HOUSE}
    assert after == house
