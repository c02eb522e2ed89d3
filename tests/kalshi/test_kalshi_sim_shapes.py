"""The simulator's crowd market over real HTTP in the shapes real Kalshi quotes take (issue 19): an empty
side as a YES bid of 0 or ask of 1 in candles and markets and as no level in the order book, spreads of 1
to 6 cents in the middle, nothing resting or trading after the close, and nothing shown before it
happened."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from tsa_bot.kalshi_sim import HistorySeed, running_simulator
from tsa_bot.kalshi_sim.crowd import week_close

MONDAY = date(2025, 3, 17)
WEEK = HistorySeed(MONDAY, MONDAY)
EVENT = "KXTSAW-25MAR23"
WEDNESDAY_11 = datetime(2025, 3, 19, 15, 0, tzinfo=UTC).timestamp()  # on the hour: 11:00 New York
AFTER_CLOSE = week_close(MONDAY) + 3 * 3600  # closed, not yet settled (Monday 10:00 New York)
ALL = {"start_ts": 0, "end_ts": 2_000_000_000}
ZERO, ONE = Decimal(0), Decimal(1)


def _candles(http: httpx.Client, ticker: str, period: int) -> list[dict]:
    path = f"/series/KXTSAW/markets/{ticker}/candlesticks"
    return http.get(path, params={**ALL, "period_interval": period}).raise_for_status().json()["candlesticks"]


def _price(candle: dict, side: str, field: str = "close_dollars") -> Decimal:
    return Decimal(candle[side][field])


@pytest.fixture(scope="module")
def wednesday():
    with (
        running_simulator(history=WEEK, clock=lambda: WEDNESDAY_11, read_rate=1e6) as sim,
        httpx.Client(base_url=sim.base_url, timeout=30) as http,
    ):
        yield http


def test_an_empty_side_is_0_or_1_in_markets_and_no_level_in_the_book(wednesday):
    """Mid-week, the deep strikes have one side: a YES ask of 1 (no offer) or bid of 0 (no bid), and the
    book lists nothing on that side; every market's quotes are its book's best levels and its last
    candle's close."""
    markets = wednesday.get(f"/events/{EVENT}").json()["markets"]
    assert len(markets) == 21 and all(m["status"] == "active" for m in markets)
    no_offer = no_bid = two_sided = 0
    for market in markets:
        ticker = market["ticker"]
        bid, ask = Decimal(market["yes_bid_dollars"]), Decimal(market["yes_ask_dollars"])
        book = wednesday.get(f"/markets/{ticker}/orderbook").json()["orderbook_fp"]
        yes_levels = [Decimal(p) for p, _ in book["yes_dollars"]]
        no_levels = [Decimal(p) for p, _ in book["no_dollars"]]
        if bid == ZERO:
            no_bid += 1
            assert yes_levels == [] and market["no_ask_dollars"] == "1.0000"
            assert market["yes_bid_size_fp"] == "0.00"
        else:
            assert max(yes_levels) == bid and ZERO < bid < ONE
        if ask == ONE:
            no_offer += 1
            assert no_levels == [] and market["no_bid_dollars"] == "0.0000"
            assert market["yes_ask_size_fp"] == "0.00"
        else:
            assert ONE - max(no_levels) == ask and ZERO < ask < ONE
        assert bid != ZERO or ask != ONE  # the week is open: never an empty book
        if bid != ZERO and ask != ONE:
            two_sided += 1
            assert Decimal("0.01") <= ask - bid <= Decimal("0.06")
        last = _candles(wednesday, ticker, 60)[-1]
        assert (_price(last, "yes_bid"), _price(last, "yes_ask")) == (bid, ask)
    assert no_offer >= 3 and no_bid >= 3 and two_sided >= 1


def test_deep_strikes_sit_at_0_97_and_1_or_0_and_0_03_for_days(wednesday):
    """The daily candles of the deep strikes read as real ones do: 0.9x/1 and 0/0.0x, no trade price on
    days nothing traded, the candle's traded low and high where something did."""
    markets = wednesday.get(f"/events/{EVENT}").json()["markets"]
    lowest, highest = markets[0]["ticker"], markets[-1]["ticker"]
    for ticker, side, empty, near in (
        (lowest, "yes_ask", ONE, ("yes_bid", Decimal("0.93"), ONE)),
        (highest, "yes_bid", ZERO, ("yes_ask", ZERO, Decimal("0.07"))),
    ):
        days = _candles(wednesday, ticker, 1440)
        assert len(days) == 2  # daily candles end at 00:00 UTC: two have ended by Wednesday 11:00 New York
        for candle in days:
            assert _price(candle, side) == empty
            other, low, high = near
            assert low <= _price(candle, other) <= high
    for market in markets:
        for candle in _candles(wednesday, market["ticker"], 1440):
            traded = Decimal(candle["volume_fp"]) > 0
            price = candle["price"]
            assert (price["close_dollars"] is not None) == traded
            if traded:
                assert (
                    Decimal(price["low_dollars"])
                    <= Decimal(price["close_dollars"])
                    <= Decimal(price["high_dollars"])
                )


def test_nothing_is_shown_before_it_happened(wednesday):
    """On the hour, each market's volume is the sum of its candles so far, and its open interest and last
    price those of its last trade so far: the week's later trades are not shown."""
    with running_simulator(history=WEEK, read_rate=1e6, cutoff=0) as later:
        for market in wednesday.get(f"/events/{EVENT}").json()["markets"]:
            candles = _candles(wednesday, market["ticker"], 60)
            assert sum(Decimal(c["volume_fp"]) for c in candles) == Decimal(market["volume_fp"])
            assert Decimal(candles[-1]["open_interest_fp"]) == Decimal(market["open_interest_fp"])
            full = httpx.get(f"{later.base_url}/markets/{market['ticker']}").json()["market"]
            assert Decimal(full["volume_fp"]) >= Decimal(market["volume_fp"])
        assert any(
            Decimal(httpx.get(f"{later.base_url}/markets/{m['ticker']}").json()["market"]["volume_fp"])
            > Decimal(m["volume_fp"])
            for m in wednesday.get(f"/events/{EVENT}").json()["markets"]
        )


def test_spreads_in_the_middle_are_1_to_6_cents_and_vary():
    """Over the week's hourly candles, wherever both sides are quoted the spread is 1 to 6 cents, and it
    varies (wider at the open, as the real Monday's 0.39/0.46, narrower later)."""
    spreads = []
    with (
        running_simulator(history=WEEK, read_rate=1e6, cutoff=0) as sim,
        httpx.Client(base_url=sim.base_url, timeout=30) as http,
    ):
        for market in http.get(f"/events/{EVENT}").json()["markets"]:
            for candle in _candles(http, market["ticker"], 60)[:-1]:  # the last one ends after the close
                bid, ask = _price(candle, "yes_bid"), _price(candle, "yes_ask")
                if bid != ZERO and ask != ONE:
                    spreads.append(ask - bid)
    assert spreads and all(Decimal("0.01") <= s <= Decimal("0.06") for s in spreads)
    assert len(set(spreads)) >= 5


def test_no_book_and_no_trade_after_the_close():
    """Between the close and settlement the markets are closed with nothing resting: yes_bid 0 and
    yes_ask 1, an empty book, the last candle (ending after the close) at 0/1, and no trade after the
    close."""
    with (
        running_simulator(history=WEEK, clock=lambda: AFTER_CLOSE, read_rate=1e6) as sim,
        httpx.Client(base_url=sim.base_url, timeout=30) as http,
    ):
        markets = http.get(f"/events/{EVENT}").json()["markets"]
        assert {m["status"] for m in markets} == {"closed"} and {m["result"] for m in markets} == {""}
        for market in markets:
            ticker = market["ticker"]
            assert (market["yes_bid_dollars"], market["yes_ask_dollars"]) == ("0.0000", "1.0000")
            book = http.get(f"/markets/{ticker}/orderbook").json()["orderbook_fp"]
            assert book == {"yes_dollars": [], "no_dollars": []}
            for period in (1, 60):  # the daily candle ending after the close ends later: see below
                params = {"start_ts": int(week_close(MONDAY)) - 7200, "end_ts": 2_000_000_000}
                rows = http.get(
                    f"/series/KXTSAW/markets/{ticker}/candlesticks",
                    params={**params, "period_interval": period},
                ).json()["candlesticks"]
                last = rows[-1]
                assert last["end_period_ts"] >= week_close(MONDAY)
                assert (_price(last, "yes_bid"), _price(last, "yes_ask")) == (ZERO, ONE)
                assert _price(last, "yes_bid", "low_dollars") == ZERO
                assert _price(last, "yes_ask", "high_dollars") == ONE
                assert all(
                    (_price(c, "yes_bid"), _price(c, "yes_ask")) != (ZERO, ONE)
                    for c in rows
                    if c["end_period_ts"] < week_close(MONDAY)
                )
            minutes = http.get(
                f"/series/KXTSAW/markets/{ticker}/candlesticks",
                params={"start_ts": int(week_close(MONDAY)), "end_ts": 2_000_000_000, "period_interval": 1},
            ).json()["candlesticks"]
            assert [c["end_period_ts"] for c in minutes] == [int(week_close(MONDAY))]
            hours = _candles(http, ticker, 60)
            assert sum(Decimal(c["volume_fp"]) for c in hours) == Decimal(market["volume_fp"])
    # Settled, the last daily candle (ending at 00:00 UTC after the close) is an empty book too.
    with (
        running_simulator(history=WEEK, read_rate=1e6, cutoff=0) as sim,
        httpx.Client(base_url=sim.base_url, timeout=30) as http,
    ):
        for market in http.get(f"/events/{EVENT}").json()["markets"]:
            days = _candles(http, market["ticker"], 1440)
            assert days[-1]["end_period_ts"] > week_close(MONDAY) > days[-2]["end_period_ts"]
            assert (_price(days[-1], "yes_bid"), _price(days[-1], "yes_ask")) == (ZERO, ONE)
            assert all((_price(c, "yes_bid"), _price(c, "yes_ask")) != (ZERO, ONE) for c in days[:-1])
            assert sum(Decimal(c["volume_fp"]) for c in days) == Decimal(market["volume_fp"])
