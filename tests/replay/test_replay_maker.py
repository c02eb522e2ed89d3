"""The replay's maker execution (issue 21): where an order rests, when a later candle fills it, and that no
fill ever uses a candle that ended before the order was posted. A fixed forecast stands in for Prophet."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_engine import FixedForecaster, _series

from tsa_bot.core.market import NEW_YORK, Direction, Level, OrderBook, event_ticker_for_week
from tsa_bot.pricing.execution import Execution, maker_price
from tsa_bot.quotes.interchange import QuoteRow
from tsa_bot.replay.engine import MODEL, replay
from tsa_bot.replay.execution import FILL_SHARE, PostedOrder, fills
from tsa_bot.replay.market import event_histories
from tsa_bot.replay.report import document
from tsa_bot.trading.config import TradingConfig

MONDAY = dt.date(2025, 3, 3)
EVENT = event_ticker_for_week(MONDAY)
D = Decimal


def _day_end(i: int) -> dt.datetime:
    return dt.datetime.combine(MONDAY + dt.timedelta(days=i + 1), dt.time(0), NEW_YORK).astimezone(dt.UTC)


def _row(strike, end, bid, ask, low=None, high=None, volume="0") -> QuoteRow:
    return QuoteRow(
        EVENT, f"{EVENT}-T{strike}", strike, end, D(bid), D(ask), None, D(volume), None, "",
        None if low is None else D(low), None if high is None else D(high),
    )  # fmt: skip


def _book(bid: str | None, ask: str | None) -> OrderBook:
    yes_bids = (Level(D(bid), D(10)),) if bid else ()
    no_bids = (Level(1 - D(ask), D(10)),) if ask else ()
    return OrderBook(ticker="T", yes_bids=yes_bids, no_bids=no_bids, strike=2_400_000)


def test_a_maker_order_rests_at_or_one_tick_inside_the_bid_and_never_crosses():
    assert maker_price(_book("0.40", "0.45"), Direction.YES) == D("0.41")  # spread 5 ticks: one inside
    assert maker_price(_book("0.40", "0.45"), Direction.NO) == D("0.56")  # NO bid 0.55, NO offer 0.60
    assert maker_price(_book("0.40", "0.41"), Direction.YES) == D("0.40")  # one tick: at the bid
    assert maker_price(_book("0.40", "0.41"), Direction.NO) == D("0.59")
    assert maker_price(_book(None, "0.03"), Direction.YES) == D("0.02")  # nobody bids: under the offer
    assert maker_price(_book("0.97", None), Direction.YES) == D("0.98")  # nobody offers: above the bid
    assert maker_price(_book(None, "0.01"), Direction.YES) is None  # no price between 0 and the offer
    assert maker_price(_book(None, None), Direction.YES) is None


def test_a_fill_needs_a_later_candle_that_traded_strictly_through_the_price():
    posted = _day_end(0)
    order = PostedOrder(posted, MONDAY, EVENT, f"{EVENT}-T2400000", Direction.YES, D(50), D("0.41"))
    candles = [
        _row(2_400_000, posted, "0.40", "0.45", "0.30", "0.50", "1000"),  # the posting candle: never
        _row(2_400_000, _day_end(1), "0.40", "0.45", "0.41", "0.44", "1000"),  # at our price: not through
        _row(2_400_000, _day_end(2), "0.38", "0.42", "0.39", "0.44", "40"),  # through: 25% of 40 = 10
        _row(2_400_000, _day_end(3), "0.35", "0.40", "0.36", "0.40", "1000"),  # through: the other 40
        _row(2_400_000, _day_end(4), "0.30", "0.35", "0.31", "0.33", "1000"),
    ]
    got = fills(order, candles, until=_day_end(3))
    assert [(f.at, f.count) for f in got] == [(_day_end(2), D(10)), (_day_end(3), D(40))]
    assert fills(order, candles, until=_day_end(2))[0].count == 10
    no = PostedOrder(
        posted, MONDAY, EVENT, f"{EVENT}-T2400000", Direction.NO, D(5), D("0.56")
    )  # YES ask 0.44
    assert [f.at for f in fills(no, candles, until=_day_end(4))] == []  # never traded above 0.44... until
    candles.append(_row(2_400_000, _day_end(5), "0.44", "0.47", "0.44", "0.45", "100"))
    assert [f.at for f in fills(no, candles, until=_day_end(5))] == [_day_end(5)]


prices = st.integers(1, 99).map(lambda c: D(c) / 100)


@settings(max_examples=300, deadline=None)
@given(
    posted_index=st.integers(0, 6),
    until_index=st.integers(0, 7),
    direction=st.sampled_from([Direction.YES, Direction.NO]),
    price=prices,
    count=st.integers(1, 200),
    candles=st.lists(st.tuples(prices, prices, st.integers(0, 2000)), min_size=8, max_size=8),
)
def test_a_maker_fill_never_uses_a_candle_that_ended_before_the_order_was_posted(
    posted_index, until_index, direction, price, count, candles
):
    ends = [_day_end(i - 1) for i in range(8)]
    rows = [
        _row(2_400_000, end, "0.40", "0.45", str(min(a, b)), str(max(a, b)), str(v))
        for end, (a, b, v) in zip(ends, candles, strict=True)
    ]
    order = PostedOrder(ends[posted_index], MONDAY, EVENT, rows[0].ticker, direction, D(count), price)
    got = fills(order, rows, until=ends[until_index])
    assert all(order.posted < f.at <= ends[until_index] for f in got)
    assert sum(f.count for f in got) <= count
    volume = {r.end_ts: r.volume for r in rows}
    assert all(0 < f.count <= volume[f.at] * FILL_SHARE for f in got)
    # Cutting every candle after the posting moment away leaves no fill at all.
    assert fills(order, [r for r in rows if r.end_ts <= order.posted], until=ends[-1]) == []


def _week(traded_through_on_tuesday: bool) -> list[QuoteRow]:
    """2.40 M quoted 0.40/0.45 all week; Tuesday's candle trades down to 0.35 (or only at 0.42)."""
    rows = []
    for i in range(7):
        low, high = ("0.35", "0.44") if i == 1 and traded_through_on_tuesday else ("0.42", "0.44")
        rows.append(_row(2_400_000, _day_end(i), "0.40", "0.45", low, high, "400"))
    return rows


def test_the_loop_posts_fills_later_at_its_own_price_without_a_fee_and_cancels_the_rest():
    forecaster = FixedForecaster(_series(2_450_000.0), 2_450_000.0, 2_000_000.0)  # sure of YES
    histories = event_histories(_week(True), [MONDAY])
    out = replay(histories, [MONDAY], forecaster, TradingConfig(), source=MODEL, execution=Execution.MAKER)
    assert out.trades and all(t.liquidity == "maker" and t.fee == 0 for t in out.trades)
    first = out.trades[0]
    assert (first.posted, first.moment, first.price) == (_day_end(0), _day_end(1), D("0.41"))
    assert first.count == 100  # 25% of Tuesday's 400
    assert first.mid_after == D("0.425")  # Wednesday's mid: a fill at 0.41 then looked good
    assert out.posted_contracts > sum(t.count for t in out.trades)
    # Only Tuesday's candle traded through 0.41: nothing else filled.
    assert {t.moment for t in out.trades} == {_day_end(1)}
    figures = document(out, [])["summary"]
    assert figures["fill_rate"] == round(100 / float(out.posted_contracts), 4)
    assert figures["adverse_selection"] == -0.015  # paid 0.41 for what was worth 0.425 a moment later

    never = replay(
        event_histories(_week(False), [MONDAY]),
        [MONDAY],
        forecaster,
        TradingConfig(),
        source=MODEL,
        execution=Execution.MAKER,
    )
    assert never.trades == [] and never.posted_contracts > 0 and never.weeks[0]["pnl"] == 0

    taker = replay(histories, [MONDAY], forecaster, TradingConfig(), source=MODEL)
    assert taker.trades and all(t.liquidity == "taker" and t.posted is None for t in taker.trades)
    assert all(t.price == D("0.45") and t.fee > 0 for t in taker.trades)


def test_after_the_last_moment_an_order_rests_until_the_close_and_the_closing_candle_can_fill_it():
    forecaster = FixedForecaster(_series(2_450_000.0), 2_450_000.0, 2_000_000.0)
    rows = _week(False)
    rows[-1] = _row(2_400_000, _day_end(6), "0", "1", "0.30", "0.44", "400")  # Sunday: traded, then closed
    out = replay(
        event_histories(rows, [MONDAY]),
        [MONDAY],
        forecaster,
        TradingConfig(),
        source=MODEL,
        execution=Execution.MAKER,
    )
    (fill,) = out.trades
    assert fill.posted == _day_end(5) and fill.moment == _day_end(6)  # Saturday's order, Sunday's trades
    assert fill.mid_after is None  # no moment after the close


def test_cutting_the_candles_after_a_moment_changes_no_maker_trade_up_to_it():
    forecaster = FixedForecaster(_series(2_450_000.0), 2_450_000.0, 2_000_000.0)
    rows = []
    for i in range(7):
        low = ("0.35", "0.39", "0.42", "0.30", "0.38", "0.20", "0.10")[i]
        rows += [_row(k, _day_end(i), "0.40", "0.45", low, "0.46", "120") for k in (2_300_000, 2_400_000)]
    config = TradingConfig()

    def made(quotes):
        out = replay(
            event_histories(quotes, [MONDAY]), [MONDAY], forecaster, config, execution=Execution.MAKER
        )
        return [(t.moment, t.ticker, t.count, t.price, t.posted) for t in out.trades]

    full = made(rows)
    assert len({t[0] for t in full}) >= 3
    for cut in range(1, 6):
        moment = _day_end(cut)
        assert [t for t in made([r for r in rows if r.end_ts <= moment]) if t[0] <= moment] == [
            t for t in full if t[0] <= moment
        ]
