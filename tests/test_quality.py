"""Point-in-time reads of the warehouse and the data-quality gate, on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tsa_bot.core.publication import NEW_YORK
from tsa_bot.core.records import DailyCount
from tsa_bot.sources.quality import DataQualityError, PublicationLate, check_quality
from tsa_bot.warehouse.tsa_daily import first_published_as_of, load_batch

ARCHIVE_LOADED = datetime(2026, 11, 1, tzinfo=UTC)  # history scraped long after the fact
DAYS = [DailyCount(date(2025, 5, 1) + timedelta(days=k), 2_400_000 + 1_000 * k) for k in range(40)]


def load(engine, rows, at=ARCHIVE_LOADED, key="history"):
    return load_batch(engine, rows, seen_at=at, run_key=key, pages=["archive"])


def test_archive_days_count_as_known_from_their_scheduled_publication(warehouse_engine):
    load(warehouse_engine, DAYS)
    tuesday_morning = datetime(2025, 5, 20, 9, 30, tzinfo=NEW_YORK)
    known = first_published_as_of(warehouse_engine, tuesday_morning)
    assert known[-1].day == date(2025, 5, 19)  # Monday's number, published Tuesday 9 a.m.
    assert first_published_as_of(warehouse_engine, tuesday_morning - timedelta(hours=1))[-1].day == date(
        2025, 5, 18
    )


def test_first_published_value_is_kept_through_revisions(warehouse_engine):
    load(warehouse_engine, DAYS)
    revised = [DailyCount(r.day, r.passengers + 5_000) for r in DAYS]
    load(warehouse_engine, revised, at=ARCHIVE_LOADED + timedelta(days=3), key="revision")
    known = first_published_as_of(warehouse_engine, datetime(2026, 12, 1, tzinfo=UTC))
    assert [r.passengers for r in known] == [r.passengers for r in DAYS]


def test_gate_passes_on_complete_recent_data(warehouse_engine):
    load(warehouse_engine, DAYS)
    report = check_quality(warehouse_engine, datetime(2025, 6, 3, 10, tzinfo=NEW_YORK))
    assert (report.newest_day, report.expected_newest_day) == (date(2025, 6, 2), date(2025, 6, 2))


def test_gate_rejects_a_gap_in_the_last_two_weeks(warehouse_engine):
    load(warehouse_engine, [r for r in DAYS if r.day != date(2025, 5, 28)])
    with pytest.raises(DataQualityError, match="2025-05-28"):
        check_quality(warehouse_engine, datetime(2025, 6, 3, 10, tzinfo=NEW_YORK))


def test_gate_reports_a_late_publication_as_retryable(warehouse_engine):
    load(warehouse_engine, DAYS[:-2])  # up to 2025-06-07 (Saturday)
    with pytest.raises(PublicationLate, match="newest TSA number is for 2025-06-07") as info:
        check_quality(warehouse_engine, datetime(2025, 6, 10, 10, tzinfo=NEW_YORK))
    assert info.value.retryable


def test_gate_refuses_an_empty_warehouse(warehouse_engine):
    with pytest.raises(DataQualityError, match="run an ingest first"):
        check_quality(warehouse_engine, datetime(2025, 6, 3, 10, tzinfo=NEW_YORK))
