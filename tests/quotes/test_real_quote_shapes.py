"""Quotes as Kalshi serves them (issue 19): an empty side is reported as a 0 bid or a 1 ask, candles carry a
traded range, and the last candle ends after the market's close. Read from the shared real week, unchanged."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tsa_bot.core.market import event_close_time, tradable_ask, tradable_bid
from tsa_bot.quotes.interchange import (
    FULL_HEADER,
    HEADER,
    QuoteFormatError,
    read_quotes,
    read_quotes_file,
    write_quotes,
)
from tsa_bot.quotes.sanity import check_ladders

REAL_WEEK = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kalshi_KXTSAW-26MAR22_daily_candles.csv"
)
E = "KXTSAW-26MAR22"


def _read(text: str):
    return read_quotes(io.StringIO(text), "q.csv")


@pytest.fixture(scope="module")
def real_week():
    if not REAL_WEEK.exists():
        pytest.skip(f"the shared real week is not beside the checkout: {REAL_WEEK}")
    return read_quotes_file(REAL_WEEK)


def test_the_real_week_imports_whole_with_its_traded_range(real_week):
    assert len(real_week) == 138
    assert {r.event_ticker for r in real_week} == {E}
    traded = [r for r in real_week if r.price_low is not None]
    assert traded and all(r.price_high is not None and r.price_low <= r.price_high for r in traded)
    assert all(r.volume == 0 for r in real_week if r.price_low is None)


def test_a_zero_bid_and_a_one_ask_are_empty_sides_not_prices(real_week):
    deep = next(r for r in real_week if r.yes_bid == Decimal("0.97") and r.yes_ask == 1)
    assert deep.bid == Decimal("0.97") and deep.ask is None and not deep.two_sided
    empty = [r for r in real_week if r.yes_bid == 0 and r.yes_ask == 1]
    assert empty and all(r.bid is None and r.ask is None for r in empty)
    two_sided = [r for r in real_week if r.two_sided]
    assert two_sided and all(0 < r.bid <= r.ask < 1 for r in two_sided)
    assert (tradable_bid(None), tradable_bid(Decimal(0)), tradable_bid(Decimal("0.01"))) == (
        None,
        None,
        Decimal("0.01"),
    )
    assert (tradable_ask(None), tradable_ask(Decimal(1)), tradable_ask(Decimal("0.99"))) == (
        None,
        None,
        Decimal("0.99"),
    )


def test_the_real_week_is_a_ladder(real_week):
    """Its 0/1 rows (mid 0.5 if read as prices) made the reversed-ladder check doubt a real week."""
    check_ladders(real_week)


def test_the_series_close_rule_matches_kalshis_close_time(real_week):
    assert event_close_time(E) == datetime(2026, 3, 23, 3, 59, tzinfo=UTC)
    last = max(r.end_ts for r in real_week)
    assert last > event_close_time(E)  # the last candle ends at midnight, after the close
    assert all(r.bid is None and r.ask is None for r in real_week if r.end_ts == last)


def test_an_empty_side_crosses_nothing_but_a_real_crossed_candle_is_refused():
    head = ",".join(HEADER)
    row = f"{E},{E}-A2.60,2600000,2026-03-17T04:00:00Z,{{bid}},{{ask}},,0,0,"
    assert _read(f"{head}\n{row.format(bid='0.97', ask='1')}\n")[0].bid == Decimal("0.97")
    assert _read(f"{head}\n{row.format(bid='0', ask='0.03')}\n")[0].ask == Decimal("0.03")
    with pytest.raises(
        QuoteFormatError, match=r"^q\.csv line 2, yes_bid: 0.55 is above yes_ask 0.50 \(a crossed book\)$"
    ):
        _read(f"{head}\n{row.format(bid='0.55', ask='0.50')}\n")


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("0.50,0.40", "q.csv line 2, price_low: 0.50 is above price_high 0.40"),
        ("0.50,", "q.csv line 2, price_low: price_low and price_high are both empty"),
        (",0.50", "q.csv line 2, price_low: price_low and price_high are both empty"),
        ("1.5,1.6", "q.csv line 2, price_low: 1.5 is not a price in dollars between 0 and 1"),
    ],
)
def test_a_bad_traded_range_is_refused_with_one_line(tail, message):
    head = ",".join(FULL_HEADER)
    line = f"{E},{E}-A2.60,2600000,2026-03-17T04:00:00Z,0.40,0.45,0.45,10,10,,{tail}"
    with pytest.raises(QuoteFormatError) as err:
        _read(f"{head}\n{line}\n")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_rows_must_match_their_header():
    short = f"{E},{E}-A2.60,2600000,2026-03-17T04:00:00Z,0.40,0.45,,0,0,"
    with pytest.raises(QuoteFormatError, match=r"line 2: has 10 fields, expected 12"):
        _read(f"{','.join(FULL_HEADER)}\n{short}\n")
    with pytest.raises(QuoteFormatError, match=r"line 2: has 12 fields, expected 10"):
        _read(f"{','.join(HEADER)}\n{short},0.4,0.45\n")


def test_the_real_week_writes_canonically_and_reads_back_equal(real_week):
    out = io.StringIO()
    write_quotes(real_week, out)
    assert out.getvalue().splitlines()[0] == ",".join(FULL_HEADER)
    again = _read(out.getvalue())
    assert again == sorted(real_week, key=lambda r: r.sort_key())
    second = io.StringIO()
    write_quotes(again, second)
    assert second.getvalue() == out.getvalue()
