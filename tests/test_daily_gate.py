"""The quality gate of a live run scrapes again when TSA is late, over real HTTP into a real warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tsa_bot.core.publication import newest_published_day
from tsa_bot.core.records import DailyCount
from tsa_bot.orchestration.daily import RunInfo, quality_gate
from tsa_bot.sources.ingest import fetch_tsa, load_tsa
from tsa_bot.sources.offline import CURRENT_PATH, render_page, serve_pages
from tsa_bot.sources.quality import PublicationLate


def current_page(last_day):
    days = [last_day - timedelta(days=k) for k in range(40)]
    rows = [DailyCount(d, 2_400_000 + 1_000 * (d.toordinal() % 7)) for d in days]
    return render_page(rows, newest_first=True)


def test_a_late_publication_is_fetched_again_and_passes_once_it_appears(tsa_env, warehouse_url):
    now = datetime.now(UTC)
    expected = newest_published_day(now)
    run = RunInfo("tsa_daily/live-run", now)
    pages = {CURRENT_PATH: current_page(expected - timedelta(days=1))}
    with serve_pages(pages) as site:
        tsa_env(site.base_url)
        # Only the current page: the year pages are not needed for this check.
        load_tsa(fetch_tsa(base_url=site.base_url, current_only=True)["page_ids"], run_key="morning")
        with pytest.raises(PublicationLate, match="normally published by") as late:
            quality_gate(run)
        assert late.value.retryable
        requests_before = len(site.requests)
        assert requests_before >= 2  # the gate scraped again before giving up

        site.pages[CURRENT_PATH] = current_page(expected)  # TSA publishes, late
        report = quality_gate(run)
    assert report["newest_day"] == expected.isoformat() == report["expected_newest_day"]
    assert len(site.requests) > requests_before
