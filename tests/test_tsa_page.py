"""The TSA page parser on the real layouts, on realistically broken pages, and by property."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsa_bot.core.errors import PageLayoutError
from tsa_bot.core.records import DailyCount
from tsa_bot.sources.offline import render_page, site_pages
from tsa_bot.sources.tsa_page import parse_count, parse_date, parse_page

ROWS = [
    DailyCount(date(2026, 9, 1), 2_401_220),
    DailyCount(date(2026, 9, 2), 2_187_003),
    DailyCount(date(2026, 9, 3), 2_691_308),
]

# The 2021 capture: one column per year, each the same weekday of that year.
YEAR_COLUMNS_PAGE = """<html><body><table>
<tr><th>Date</th><th>2021 Traveler Throughput</th><th>2020 Traveler Throughput</th>
<th>2019 Traveler Throughput</th></tr>
<tr><td>6/1/2021</td><td>1,571,616</td><td>353,261</td><td>2,499,002</td></tr>
<tr><td>5/31/2021</td><td>1,900,170</td><td>267,451</td><td>2,370,750</td></tr>
</table></body></html>"""


def test_current_layout_newest_first_is_returned_ascending():
    assert parse_page(render_page(ROWS, newest_first=True)) == ROWS


def test_legacy_layout_takes_this_year_and_ignores_the_year_ago_column():
    last_year = {r.day: 1_111_111 for r in ROWS}
    assert parse_page(render_page(ROWS, legacy_layout=True, last_year=last_year)) == ROWS


def test_year_per_column_layout_takes_the_newest_year():
    assert parse_page(YEAR_COLUMNS_PAGE) == [
        DailyCount(date(2021, 5, 31), 1_900_170),
        DailyCount(date(2021, 6, 1), 1_571_616),
    ]


def test_header_row_in_plain_cells_without_thead():
    page = "<table><tr><td>Date</td><td>Numbers</td></tr><tr><td>1/2/2024</td><td>2,000,001</td></tr></table>"
    assert parse_page(page) == [DailyCount(date(2024, 1, 2), 2_000_001)]


def test_shipped_offline_pages_parse_to_the_shared_data(shared_csv):
    import csv

    with shared_csv.open() as fh:
        expected = {date.fromisoformat(r["date"]): int(r["passengers"]) for r in csv.DictReader(fh)}
    parsed = {}
    for html in site_pages().values():
        parsed.update({r.day: r.passengers for r in parse_page(html)})
    assert parsed == expected


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (render_page(ROWS).replace(">Numbers<", ">Volume<"), "no table with a Date column"),
        (render_page(ROWS).replace(">Date<", ">Day<"), "no table with a Date column"),
        (render_page([]), "has no rows"),
        (render_page(ROWS).replace("2,187,003", "N/A"), "row 2"),
        (render_page(ROWS).replace("2,187,003", "2,187,0O3"), "not a whole number"),
        (render_page(ROWS).replace("9/2/2026", "9/31/2026"), "row 2"),
        (render_page(ROWS).replace("9/2/2026", "Sept 2"), "not a M/D/YYYY date"),
        (
            "<html><head><title>Access Denied</title></head><body>Reference #18.4f</body></html>",
            "no table on the page (title: 'Access Denied')",
        ),
        ("<table><tr><th>Date</th><th>2024</th><th>Numbers</th></tr></table>", "ambiguous count columns"),
    ],
    ids=[
        "renamed-count-column",
        "renamed-date-column",
        "empty-table",
        "non-numeric-cell",
        "letter-in-number",
        "impossible-date",
        "unparseable-date",
        "html-error-page",
        "ambiguous-columns",
    ],
)
def test_broken_pages_fail_with_a_message_naming_the_problem(page, message):
    with pytest.raises(PageLayoutError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_page(page)


# A second table a page might carry (a promo, a forecast widget): a date column and a count column too.
DECOY = """<table><thead><tr><th>Date</th><th>Passengers screened</th></tr></thead><tbody>
<tr><td>1/1/2099</td><td>23,000,000</td></tr><tr><td>1/2/2099</td><td>2330</td></tr></tbody></table>"""


@pytest.mark.parametrize("decoy_first", [True, False])
def test_a_page_where_two_tables_qualify_is_refused(decoy_first):
    page = render_page(ROWS)
    page = (
        page.replace("<table", DECOY + "<table", 1)
        if decoy_first
        else page.replace("</main>", DECOY + "</main>")
    )
    with pytest.raises(PageLayoutError, match="2 tables have a Date column and a count column"):
        parse_page(page, source="page.html")


def test_a_table_without_the_headers_beside_the_passenger_table_is_ignored():
    other = "<table><tr><th>Airport</th><th>Wait</th></tr><tr><td>JFK</td><td>12 min</td></tr></table>"
    assert parse_page(render_page(ROWS).replace("</main>", other + "</main>")) == ROWS


daily_rows = st.lists(
    st.builds(
        DailyCount,
        st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31)),
        st.integers(min_value=0, max_value=9_999_999),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda r: r.day,
)


@settings(max_examples=150, deadline=None)
@given(rows=daily_rows, newest_first=st.booleans(), legacy=st.booleans())
def test_any_rendered_table_parses_back_exactly(rows, newest_first, legacy):
    page = render_page(rows, newest_first=newest_first, legacy_layout=legacy)
    assert parse_page(page) == sorted(rows)


@settings(max_examples=300, deadline=None)
@given(rows=daily_rows, index=st.integers(min_value=0), cell=st.text(max_size=12))
def test_a_cell_is_either_read_exactly_or_the_page_is_rejected(rows, index, cell):
    """Whatever text lands in a number cell, the parser never returns a wrong row silently."""
    target = rows[index % len(rows)]
    page = render_page(rows).replace(f">{target.passengers:,} ", f">{_escape(cell)} ", 1)
    try:
        parsed = parse_page(page)
    except PageLayoutError:
        return
    value = dict((r.day, r.passengers) for r in parsed)[target.day]
    normalised = " ".join(cell.split())
    assert re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})+|[0-9]+", normalised), normalised
    assert value == int(normalised.replace(",", ""))


def _escape(text: str) -> str:
    import html

    return html.escape(text)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
def test_dates_round_trip(day):
    assert parse_date(f"{day.month}/{day.day}/{day.year}") == day


@pytest.mark.parametrize("text", ["1,23", "12,3456", "1.5", "-5", "", "1 000", "\uff12", "\u0662"])
def test_malformed_numbers_are_rejected(text):
    with pytest.raises(ValueError):
        parse_count(text)


def test_consecutive_days_stay_distinct():
    rows = [DailyCount(date(2024, 2, 28) + timedelta(days=k), 2_000_000 + k) for k in range(3)]
    assert [r.day for r in parse_page(render_page(rows))] == [
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]
