"""The replay on quotes as Kalshi serves them (issue 19): empty sides reported as 0 and 1, one-sided and
empty books, candles after the close; and every policy over the shared real week, unchanged.

The loop tests stand a fixed forecast in for Prophet (``FixedForecaster`` of test_replay_engine); the
real-week test runs the real forecaster on TSA numbers made up for 2026 (2026's are not shipped), the
same as ``benchmarks/replay_real_week.py``."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from test_replay_engine import FixedForecaster, _series

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from replay_real_week import made_up_tsa

from tsa_bot.core.market import NEW_YORK, ONE, Level, event_close_time, event_ticker_for_week
from tsa_bot.forecast.cache import default_cache
from tsa_bot.pricing.execution import Execution
from tsa_bot.quotes.interchange import QuoteRow, read_quotes_file
from tsa_bot.replay.commands import run_replay
from tsa_bot.replay.engine import MODEL, replay
from tsa_bot.replay.market import DEPTH, event_histories
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.policies import policy_names

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
REAL_WEEK = SHARED / "kalshi_KXTSAW-26MAR22_daily_candles.csv"
MONDAY = dt.date(2025, 3, 3)
EVENT = event_ticker_for_week(MONDAY)


def _row(strike: int, end: dt.datetime, bid: str, ask: str, *, close: dt.datetime | None = None) -> QuoteRow:
    return QuoteRow(
        EVENT, f"{EVENT}-T{strike}", strike, end, Decimal(bid), Decimal(ask), None, None, None, "",
        close_time=close,
    )  # fmt: skip


def _day_end(i: int) -> dt.datetime:
    """The end of the daily candle of the week's day ``i`` (midnight New York after it)."""
    return dt.datetime.combine(MONDAY + dt.timedelta(days=i + 1), dt.time(0), NEW_YORK).astimezone(dt.UTC)


def test_a_zero_bid_and_a_one_ask_put_no_level_in_the_snapshot():
    rows = [
        _row(2_300_000, _day_end(0), "0.97", "1"),  # no offer: YES cannot be bought, NO can (at 0.03)
        _row(2_400_000, _day_end(0), "0.40", "0.45"),
        _row(2_500_000, _day_end(0), "0", "0.03"),  # no bid: NO cannot be bought
        _row(2_600_000, _day_end(0), "0", "1"),  # an empty book
    ]
    history = event_histories(rows, [MONDAY])[MONDAY]
    books = {b.strike: b for b in history.snapshot(history.moments()[0]).books}
    assert (books[2_300_000].yes_asks, books[2_300_000].no_asks) == ((), (Level(Decimal("0.03"), DEPTH),))
    assert (books[2_500_000].yes_asks, books[2_500_000].no_asks) == ((Level(Decimal("0.03"), DEPTH),), ())
    assert books[2_600_000].yes_bids == () and books[2_600_000].no_bids == ()
    assert all(lv.price < ONE for b in books.values() for lv in (*b.yes_asks, *b.no_asks))


def test_no_moment_at_or_after_the_close_and_kalshis_close_time_comes_first():
    rule = event_close_time(EVENT)  # Sunday 23:59 New York
    rows = [_row(2_400_000, _day_end(i), "0.40", "0.45") for i in range(7)]
    history = event_histories(rows, [MONDAY])[MONDAY]
    days = [m.day for m in history.moments()]
    assert days == [MONDAY + dt.timedelta(days=i) for i in range(6)]  # Sunday's candle ends after the close
    assert all(m.at < rule for m in history.moments())

    # A market Kalshi closed early (Friday noon) is out of every later snapshot; the others trade on.
    early = dt.datetime.combine(MONDAY + dt.timedelta(days=4), dt.time(12), NEW_YORK)
    rows = [_row(2_400_000, _day_end(i), "0.40", "0.45", close=early) for i in range(7)]
    rows += [_row(2_500_000, _day_end(i), "0.20", "0.25") for i in range(7)]
    history = event_histories(rows, [MONDAY])[MONDAY]
    for moment in history.moments():
        strikes = {b.strike for b in history.snapshot(moment).books}
        assert strikes == ({2_400_000, 2_500_000} if moment.at <= early else {2_500_000}), moment


def test_one_sided_books_trade_their_quoted_side_and_only_two_sided_books_are_scored():
    # The model is sure the mean is 2.45 M (YES below it, NO above); the week ends at 2.45 M.
    rows = []
    for i in range(6):
        end = _day_end(i)
        rows += [
            _row(2_300_000, end, "0.90", "1"),  # YES wanted, but nobody offers YES
            _row(2_400_000, end, "0.60", "0.65"),  # two-sided: YES bought at 0.65
            _row(2_500_000, end, "0.20", "1"),  # NO wanted: bought at 1 - 0.20
            _row(2_600_000, end, "0", "1"),  # empty: nothing
        ]
    forecaster = FixedForecaster(_series(2_450_000.0), 2_450_000.0, 2_000_000.0)
    out = replay(event_histories(rows, [MONDAY]), [MONDAY], forecaster, TradingConfig(), source=MODEL)
    bought = {(t.ticker.rsplit("-T", 1)[1], t.direction, t.price) for t in out.trades}
    assert bought == {("2400000", "yes", Decimal("0.65")), ("2500000", "no", Decimal("0.80"))}
    assert {s.strike for s in out.scores} == {2_400_000}  # the only two-sided book
    assert len(out.scores) == 6 and all(s.market == pytest.approx(0.625) for s in out.scores)
    assert all(set(w.market) == {2_400_000} for w in out.scored)  # what blend learns from, too


@pytest.fixture(scope="module")
def real_week_inputs():
    if not REAL_WEEK.exists():
        pytest.skip(f"the shared real week is not beside the checkout: {REAL_WEEK}")
    series = made_up_tsa(SHARED)
    week = series["2026-03-16":"2026-03-22"].mean()
    assert 2_600_000 < week <= 2_650_000  # as the real markets settled: above 2.60 M, not above 2.65 M
    return series, read_quotes_file(REAL_WEEK)


@pytest.mark.slow
@pytest.mark.parametrize("policy", policy_names())
def test_every_policy_replays_the_real_week(real_week_inputs, policy):
    series, rows = real_week_inputs
    config = TradingConfig(policy=policy)
    doc = run_replay(
        series,
        rows,
        dt.date(2026, 3, 16),
        dt.date(2026, 3, 16),
        config=config,
        workers=1,
        calibration_weeks=8,
        cache=default_cache(),
    )
    close = event_close_time("KXTSAW-26MAR22")
    by_key = {(r.ticker, r.end_ts): r for r in rows}
    for name, trades in (("strategy", doc["trades"]),):
        assert trades, f"{policy} made no trade on the real week"
        for t in trades:
            at = dt.datetime.fromisoformat(t["moment"])
            quoted = by_key[(t["ticker"], at)]
            assert at < close, name
            # Bought at a price someone offered: YES at the ask, NO at 1 - bid; never at a 0 or 1 side.
            offered = quoted.ask if t["side"] == "yes" else ONE - quoted.bid if quoted.bid else None
            assert offered is not None and Decimal(str(t["price"])) == offered, t
    # Scored only where both sides were quoted, at the moments traded (the days before the close).
    moments = {r.end_ts for r in rows if r.end_ts < close and r.end_ts.astimezone(NEW_YORK).hour == 0}
    two_sided = [r for r in rows if r.end_ts in moments and r.two_sided]
    summary = doc["summary"]
    assert summary["strikes_scored"] == len(two_sided) > 0
    assert 0 < summary["brier_market"] < 0.1  # 0/1 books read as a 0.5 mid would give about 0.2
    assert summary["by_day"]["Sun"]["trades"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("policy", policy_names())
def test_every_policy_replays_the_real_week_as_a_maker(real_week_inputs, policy):
    """Issue 21: maker orders on the real candles fill only where a later candle traded through them."""
    series, rows = real_week_inputs
    doc = run_replay(
        series,
        rows,
        dt.date(2026, 3, 16),
        dt.date(2026, 3, 16),
        config=TradingConfig(policy=policy),
        execution=Execution.MAKER,
        workers=1,
        calibration_weeks=8,
        cache=default_cache(),
    )
    by_key = {(r.ticker, r.end_ts): r for r in rows}
    assert doc["trades"], f"{policy} filled nothing as a maker on the real week"
    for t in doc["trades"]:
        posted, filled = dt.datetime.fromisoformat(t["posted"]), dt.datetime.fromisoformat(t["moment"])
        candle = by_key[(t["ticker"], filled)]
        assert t["liquidity"] == "maker" and posted < filled and t["fee"] == 0
        price = Decimal(str(t["price"]))
        if t["side"] == "yes":
            assert candle.price_low is not None and candle.price_low < price, t
        else:
            assert candle.price_high is not None and candle.price_high > ONE - price, t
    assert 0 < doc["summary"]["fill_rate"] <= 1
