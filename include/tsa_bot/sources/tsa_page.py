"""Parse a saved tsa.gov passenger-volumes page (the current page or a year page) into daily counts.

Columns are found by their header, never by position: the current layout is ``Date | Numbers``; older
captures had ``Total Traveler Throughput`` plus a "1 Year Ago - Same Weekday" column, and the 2021 layout
had one column per year. Any cell the parser cannot read exactly fails the whole page, naming the row:
a wrong number is worse than no number. So does a page where more than one table qualifies.
"""

from __future__ import annotations

import re
from datetime import date

from bs4 import BeautifulSoup, Tag

from tsa_bot.core.errors import PageLayoutError
from tsa_bot.core.records import DailyCount

_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", re.ASCII)
_NUMBER = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)$", re.ASCII)
_DATE_HEADER = re.compile(r"\bdate\b")
_COUNT_HEADER = re.compile(r"numbers|throughput|travell?ers|passengers|screened|^(?:19|20)\d\d$")
_COMPARISON_HEADER = re.compile(r"ago|last year|same weekday|prior|previous")
_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")


def _text(cell: Tag) -> str:
    return " ".join(cell.get_text(" ", strip=True).split())


def parse_date(text: str) -> date:
    match = _DATE.match(text)
    if not match:
        raise ValueError(f"not a M/D/YYYY date: {text!r}")
    month, day, year = (int(g) for g in match.groups())
    return date(year, month, day)


def parse_count(text: str) -> int:
    if not _NUMBER.match(text):
        raise ValueError(f"not a whole number: {text!r}")
    return int(text.replace(",", ""))


def _header_cells(table: Tag) -> list[str] | None:
    head = table.find("thead")
    row = head.find("tr") if head else table.find("tr")
    if row is None:
        return None
    headers = [_text(c).lower() for c in row.find_all(["th", "td"])]
    # Some captures put the header row in <td>s without a <thead>: accept it if it names a date column.
    if head is None and not row.find("th") and not any(_DATE_HEADER.search(h) for h in headers):
        return None
    return headers


def _count_column(headers: list[str], date_col: int) -> int | None:
    candidates = [
        i
        for i, h in enumerate(headers)
        if i != date_col and _COUNT_HEADER.search(h) and not _COMPARISON_HEADER.search(h)
    ]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    # The 2021 layout: one column per year, each showing the same weekday of that year. Ours is the newest.
    years = {i: int(m.group(1)) for i in candidates if (m := _YEAR.search(headers[i]))}
    if len(years) == len(candidates):
        return max(years, key=years.__getitem__)
    raise PageLayoutError(f"ambiguous count columns {[headers[i] for i in candidates]}")


def _data_rows(table: Tag) -> list[Tag]:
    body = table.find("tbody")
    header_row = table.find("thead") or table.find("tr")
    rows = body.find_all("tr", recursive=False) if body else table.find_all("tr")
    rows = [r for r in rows if r is not header_row and r.parent is not header_row]
    return [r for r in rows if r.find_all("td")]


def parse_page(html: str, source: str = "page") -> list[DailyCount]:
    """Daily counts from one page, ascending by date. Raises PageLayoutError naming what is wrong."""
    soup = BeautifulSoup(html, "lxml")
    tables = soup.find_all("table")
    if not tables:
        title = _text(soup.title) if soup.title else "no title"
        raise PageLayoutError(f"{source}: no table on the page (title: {title!r}); is it an error page?")
    seen_headers = []
    qualifying: list[tuple[Tag, int, int]] = []
    for table in tables:
        headers = _header_cells(table)
        if not headers:
            continue
        seen_headers.append(headers)
        date_col = next((i for i, h in enumerate(headers) if _DATE_HEADER.search(h)), None)
        if date_col is None:
            continue
        count_col = _count_column(headers, date_col)
        if count_col is not None:
            qualifying.append((table, date_col, count_col))
    if not qualifying:
        raise PageLayoutError(
            f"{source}: no table with a Date column and a Numbers/Throughput column; "
            f"headers seen: {seen_headers}"
        )
    if len(qualifying) > 1:
        # Reading the first would trust the page's order; a decoy placed first would win.
        raise PageLayoutError(
            f"{source}: {len(qualifying)} tables have a Date column and a count column, so which one holds "
            "TSA's numbers is a guess; refusing the page"
        )
    return _parse_rows(*qualifying[0], source)


def _parse_rows(table: Tag, date_col: int, count_col: int, source: str) -> list[DailyCount]:
    rows = _data_rows(table)
    if not rows:
        raise PageLayoutError(f"{source}: the passenger table has no rows")
    parsed: list[DailyCount] = []
    for number, row in enumerate(rows, start=1):
        cells = [_text(c) for c in row.find_all(["td", "th"])]
        if len(cells) <= max(date_col, count_col):
            raise PageLayoutError(f"{source}: row {number} has {len(cells)} cells: {cells}")
        try:
            parsed.append(DailyCount(parse_date(cells[date_col]), parse_count(cells[count_col])))
        except ValueError as exc:
            raise PageLayoutError(f"{source}: row {number} {cells}: {exc}") from None
    return sorted(parsed)
