"""The small facts of the market, each defined once in core.market: tickers, settlement, the YES book."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tsa_bot.core.market import (
    BookSide,
    Direction,
    in_event,
    market_result,
    market_ticker,
    on_yes_book,
    yes_wins,
)

D = Decimal


def test_a_market_ticker_names_its_strike_in_millions_and_belongs_to_its_event_only():
    ticker = market_ticker("KXTSAW-26FEB15", 2_300_000)
    assert ticker == "KXTSAW-26FEB15-A2.30"
    assert market_ticker("KXTSAW-26FEB15", 2_325_000) == "KXTSAW-26FEB15-A2.32"  # half to even, as before
    assert in_event(ticker, "KXTSAW-26FEB15")
    assert not in_event(ticker, "KXTSAW-26FEB1")  # a prefix of the event's name is another event
    assert not in_event("KXTSAW-26FEB15", "KXTSAW-26FEB15")  # the event itself is no market of it


@pytest.mark.parametrize(
    ("mean", "strike", "result"),
    [
        (2_300_001, 2_300_000, "yes"),
        (D("2300000.01"), 2_300_000, "yes"),
        (2_300_000.0, 2_300_000, "no"),  # on the strike: NO (Kalshi's "above" is strict)
        (D(2_300_000), 2_300_000, "no"),
        (2_299_999.5, 2_300_000, "no"),
    ],
)
def test_yes_wins_only_strictly_above_the_strike(mean, strike, result):
    assert yes_wins(mean, strike) is (result == "yes")
    assert market_result(mean, strike) == result and type(market_result(mean, strike)) is str


def test_every_order_is_expressed_on_the_yes_book():
    assert on_yes_book(Direction.YES, D("0.42")) == (BookSide.BID, D("0.42"))
    assert on_yes_book(Direction.NO, D("0.42")) == (BookSide.ASK, D("0.58"))
    assert on_yes_book("yes", D("0.07")) == (BookSide.BID, D("0.07"))
    assert on_yes_book("no", D("0.07")) == (BookSide.ASK, D("0.93"))
