from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest

from tsa_bot.core.errors import ValidationError
from tsa_bot.core.records import DailyCount
from tsa_bot.sources.validate import missing_days, near_holiday, validate_batch

TODAY = date(2026, 11, 24)


def week(start: date, values: list[int]) -> list[DailyCount]:
    return [DailyCount(start + timedelta(days=k), v) for k, v in enumerate(values)]


def test_all_of_2019_to_2025_passes(shared_csv):
    with shared_csv.open() as fh:
        rows = [DailyCount(date.fromisoformat(r["date"]), int(r["passengers"])) for r in csv.DictReader(fh)]
    assert validate_batch(rows, TODAY) == rows


def test_exact_duplicates_collapse_and_conflicts_name_the_dates():
    rows = week(date(2025, 3, 3), [2_300_000, 2_200_000])
    assert validate_batch(rows + rows[:1], TODAY) == rows
    with pytest.raises(ValidationError, match=r"2025-03-03 \(2,300,000 vs 2,300,001\)"):
        validate_batch([*rows, DailyCount(date(2025, 3, 3), 2_300_001)], TODAY)


def test_future_dates_are_rejected():
    with pytest.raises(ValidationError, match=r"dates after today \(2026-11-24\): 2026-11-25"):
        validate_batch(week(date(2026, 11, 23), [2_500_000, 2_400_000, 2_450_000]), TODAY)


@pytest.mark.parametrize("value", [49_999, 4_000_001, 0])
def test_implausible_values_are_rejected(value):
    with pytest.raises(ValidationError, match="outside 50,000-4,000,000"):
        validate_batch(week(date(2025, 3, 3), [2_300_000, value]), TODAY)


def test_a_slipped_digit_is_an_implausible_jump():
    rows = week(date(2025, 3, 3), [2_300_000, 230_000, 2_310_000])
    with pytest.raises(ValidationError, match=r"2025-03-03->2025-03-04 \(2,300,000->230,000\)") as info:
        validate_batch(rows, TODAY)
    assert "nothing was loaded" in str(info.value)


def test_holiday_drops_are_allowed_but_not_elsewhere():
    thanksgiving = date(2025, 11, 27)
    assert near_holiday(thanksgiving) and not near_holiday(date(2025, 3, 5))
    drop = [3_000_000, 1_600_000]  # log move -0.63: Thanksgiving-sized
    assert validate_batch(week(thanksgiving - timedelta(days=1), drop), TODAY)
    with pytest.raises(ValidationError, match="day-over-day"):
        validate_batch(week(date(2025, 3, 4), drop), TODAY)


def test_missing_days_are_listed():
    rows = [DailyCount(date(2025, 1, 1), 2_000_000), DailyCount(date(2025, 1, 4), 2_000_000)]
    assert missing_days(rows) == [date(2025, 1, 2), date(2025, 1, 3)]
