"""The ingest and load steps of the daily job, callable from the CLI and from Airflow tasks alike.

``fetch_tsa`` scrapes the pages and keeps them raw in the warehouse; ``load_tsa`` parses, validates and
loads them in one transaction. They hand over only page ids, so the XCom between them stays small.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from tsa_bot.core.config import check_http_url, get_settings
from tsa_bot.core.errors import PageLayoutError
from tsa_bot.core.market import NEW_YORK
from tsa_bot.core.records import DailyCount
from tsa_bot.sources.offline import offline_site
from tsa_bot.sources.tsa_page import parse_page
from tsa_bot.sources.tsa_site import fetch_page, page_url
from tsa_bot.sources.validate import missing_days, validate_batch
from tsa_bot.warehouse import tsa_daily
from tsa_bot.warehouse.engine import get_engine
from tsa_bot.warehouse.migrate import migrate

log = logging.getLogger(__name__)


def today_in_new_york() -> date:
    return datetime.now(NEW_YORK).date()


def pages_to_fetch(base_url: str, have: dict[int, int], current_year: int, full_history: bool) -> list[str]:
    """The current page, plus every past year's page the warehouse does not hold in full."""
    first_year = get_settings().tsa_first_year
    years = [
        y
        for y in range(first_year, current_year)
        if full_history or have.get(y, 0) < (366 if calendar.isleap(y) else 365)
    ]
    return [page_url(base_url, y) for y in years] + [page_url(base_url)]


@contextmanager
def _tsa_base_url(offline: bool, base_url: str | None) -> Iterator[str]:
    if offline or get_settings().offline:
        with offline_site() as site:
            yield site.base_url
    elif base_url is not None:
        yield check_http_url(base_url, "the TSA base URL")
    else:
        yield get_settings().tsa_base_url


def fetch_tsa(
    *,
    offline: bool = False,
    full_history: bool = False,
    current_only: bool = False,
    base_url: str | None = None,
    warehouse_url: str | None = None,
) -> dict:
    """Fetch the pages, keep them raw in the warehouse, and check each parses. Returns XCom-sized JSON.

    ``current_only`` fetches just the current page (a re-check for a late number), whatever history lacks.
    """
    engine = get_engine(warehouse_url)
    migrate(engine)
    have = tsa_daily.days_per_year(engine)
    with _tsa_base_url(offline, base_url) as base:
        urls = pages_to_fetch(base, have, today_in_new_york().year, full_history)
        if current_only:
            urls = urls[-1:]
        pages = [fetch_page(url) for url in urls]
    page_ids = tsa_daily.store_raw_pages(engine, pages)
    rows = 0
    newest: date | None = None
    for page_id, page in zip(page_ids, pages, strict=True):
        parsed = _parse_stored(page_id, page.url, page.html)
        rows += len(parsed)
        newest = max(newest or parsed[-1].day, parsed[-1].day)
    log.info("fetched %d pages, %d rows, newest %s", len(pages), rows, newest)
    return {"page_ids": page_ids, "pages": urls, "rows": rows, "newest_date": newest.isoformat()}


def _parse_stored(page_id: int, url: str, html: str) -> list[DailyCount]:
    try:
        return parse_page(html, source=url)
    except PageLayoutError as exc:
        raise PageLayoutError(f"{exc} (raw page kept as tsa_raw_pages.id={page_id})") from None


def load_tsa(
    page_ids: list[int], *, run_key: str, today: date | None = None, warehouse_url: str | None = None
) -> dict:
    """Parse, validate and load fetched pages in one transaction. A retry of the same run is a no-op."""
    engine = get_engine(warehouse_url)
    migrate(engine)
    stored = tsa_daily.read_raw_pages(engine, page_ids)
    urls = [page.url for _, page in stored]
    done = tsa_daily.finished_run(engine, run_key, page_ids)
    if done is not None:
        log.info("run %s already loaded these pages as ingest run %d", run_key, done.ingest_run_id)
        return done.as_json()
    rows = [row for page_id, page in stored for row in _parse_stored(page_id, page.url, page.html)]
    batch = validate_batch(rows, today or today_in_new_york())
    gaps = missing_days(batch)
    if gaps:
        log.warning(
            "%d days missing between %s and %s: %s", len(gaps), batch[0].day, batch[-1].day, gaps[:10]
        )
    summary = tsa_daily.load_batch(
        engine,
        batch,
        seen_at=max(page.fetched_at for _, page in stored),
        run_key=run_key,
        pages=urls,
        missing_dates=gaps,
        raw_page_ids=page_ids,
    )
    return summary.as_json()
