"""The quote interchange CSV: canonical form, round trip and one-line errors naming the row and field."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tsa_bot.quotes.interchange import (
    FULL_HEADER,
    HEADER,
    QuoteFormatError,
    format_count,
    format_price,
    read_quotes,
    write_quotes,
)

HEADER_LINE = ",".join(HEADER)
FULL_HEADER_LINE = ",".join(FULL_HEADER)
CANONICAL = (
    FULL_HEADER_LINE + "\n"
    "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-09T15:00:00+00:00,0.47,0.49,0.48,120,35,yes,0.45,0.49\n"
    "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.35,2350000,2026-02-09T15:00:00+00:00,0.2725,0.31,,0,12.5,no,,\n"
    "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00+00:00,0.50,0.53,,,,yes,,\n"
    "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.35,2350000,2026-02-10T15:00:00+00:00,,1.00,0.01,3,12.5,no,0.01,0.0125\n"
)


def _read(text: str):
    return read_quotes(io.StringIO(text), "q.csv")


def _write(rows) -> str:
    out = io.StringIO()
    write_quotes(rows, out)
    return out.getvalue()


def test_a_canonical_file_round_trips_byte_for_byte():
    rows = _read(CANONICAL)
    assert len(rows) == 4
    first = rows[0]
    assert first.end_ts == datetime(2026, 2, 9, 15, tzinfo=UTC)
    assert first.yes_bid == Decimal("0.47") and first.floor_strike == 2_300_000 and first.result == "yes"
    assert rows[1].last_price is None and rows[3].yes_bid is None
    assert _write(rows) == CANONICAL
    # Written in time order whatever the order given.
    assert _write(reversed(rows)) == CANONICAL


def test_other_offsets_and_wire_precision_are_read_and_written_canonically():
    text = (
        HEADER_LINE + "\n"
        "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-09T10:00:00-05:00,0.4700,0.4900,,10.00,5.00,\n"
    )
    (row,) = _read(text)
    assert row.end_ts == datetime(2026, 2, 9, 15, tzinfo=UTC)
    assert _write([row]).splitlines()[1] == (
        "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-09T15:00:00+00:00,0.47,0.49,,10,5,,,"
    )


@pytest.mark.parametrize(
    ("value", "price", "count"),
    [
        ("0.4700", "0.47", "0.47"),
        ("0.5", "0.50", "0.5"),
        ("0", "0.00", "0"),
        ("0.0000", "0.00", "0"),
        ("1", "1.00", "1"),
        ("0.123456", "0.123456", "0.123456"),
        ("1200.00", "1200.00", "1200"),
    ],
)
def test_decimal_forms(value, price, count):
    assert format_price(Decimal(value)) == price
    assert format_count(Decimal(value)) == count


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-09T15:00:00,0.47,0.49,,1,1,",
            "q.csv line 3, end_ts: '2026-02-09T15:00:00' has no UTC offset",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,tuesday,0.47,0.49,,1,1,",
            "q.csv line 3, end_ts: 'tuesday' is not an ISO 8601 time",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,47,0.49,,1,1,",
            "q.csv line 3, yes_bid: 47 is not a price in dollars between 0 and 1",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,abc,,1,1,",
            "q.csv line 3, yes_ask: 'abc' is not a number",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,NaN,1,1,",
            "q.csv line 3, last_price: 'NaN' is not a number",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.1234567,0.49,,1,1,",
            "q.csv line 3, yes_bid: 0.1234567 has more than 6 decimals",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1.005,1,",
            "q.csv line 3, volume: 1.005 has more than 2 decimals",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1E+20,",
            "q.csv line 3, open_interest: 1E+20 is too large",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,-1,1,",
            "q.csv line 3, volume: -1 is negative",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2.3M,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            "q.csv line 3, floor_strike: '2.3M' is not a number",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,maybe",
            "q.csv line 3, result: 'maybe' is not yes, no or empty",
        ),
        (
            "KXTSAW-26FEB22,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            "q.csv line 3, ticker: 'KXTSAW-26FEB15-A2.30' is not a market of event 'KXTSAW-26FEB22'",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49",
            "q.csv line 3: has 6 fields, expected 10",
        ),
        ("", "q.csv line 3: empty line"),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-09T10:00:00-05:00,0.47,0.49,,1,1,",
            "q.csv line 3: KXTSAW-26FEB15-A2.30 at 2026-02-09T15:00:00+00:00 is already on line 2",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2350000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,",
            "q.csv line 3, floor_strike: KXTSAW-26FEB15-A2.30 has '2350000' here but '2300000' on line 2",
        ),
        (
            "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-10T15:00:00Z,0.47,0.49,,1,1,no",
            "q.csv line 3, result: KXTSAW-26FEB15-A2.30 has 'no' here but '' on line 2",
        ),
    ],
)
def test_a_bad_row_is_named_with_its_line_and_field(line, message):
    good = "KXTSAW-26FEB15,KXTSAW-26FEB15-A2.30,2300000,2026-02-09T15:00:00Z,0.47,0.49,,1,1,"
    with pytest.raises(QuoteFormatError) as err:
        _read(f"{HEADER_LINE}\n{good}\n{line}\n")
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_the_header_must_be_exact():
    with pytest.raises(QuoteFormatError, match=r"q\.csv line 1: the header must be exactly event_ticker,"):
        _read(HEADER_LINE.replace("yes_bid,yes_ask", "yes_ask,yes_bid") + "\n")
    with pytest.raises(QuoteFormatError, match=r"q\.csv: empty file"):
        _read("")
    assert _read(HEADER_LINE + "\n") == []
