"""Checks a batch of daily counts must pass before anything from it is loaded.

The day-over-day bounds come from 2019-2025 (``../shared/data``): outside holiday windows the largest
moves were -0.42 (winter storm, 2022-01-29) and +0.47 in log terms; around holidays -0.65 and +0.55.
The bounds sit just beyond those, so real data passes and a slipped digit does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise

import holidays
from dateutil.easter import easter

from tsa_bot.core.errors import ValidationError
from tsa_bot.core.records import DailyCount

MIN_PLAUSIBLE = 50_000
MAX_PLAUSIBLE = 4_000_000
MAX_LOG_MOVE = 0.5
MAX_LOG_MOVE_NEAR_HOLIDAY = 0.75
HOLIDAY_WINDOW_DAYS = 3
_SHOWN = 5  # offending rows named in a message


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    days = set(holidays.US(years=year))
    days.add(easter(year))
    return frozenset(days)


def near_holiday(day: date) -> bool:
    window = (day + timedelta(days=k) for k in range(-HOLIDAY_WINDOW_DAYS, HOLIDAY_WINDOW_DAYS + 1))
    return any(d in _holidays_of(d.year) for d in window)


def _fail(problem: str, offenders: list[str]) -> ValidationError:
    more = f" (+{len(offenders) - _SHOWN} more)" if len(offenders) > _SHOWN else ""
    return ValidationError(f"{problem}: {', '.join(offenders[:_SHOWN])}{more}; nothing was loaded")


def deduplicate(rows: Iterable[DailyCount]) -> list[DailyCount]:
    """Rows ascending with exact repeats dropped; the same date with two values is an error."""
    by_day: dict[date, int] = {}
    conflicts = []
    for row in rows:
        previous = by_day.setdefault(row.day, row.passengers)
        if previous != row.passengers:
            conflicts.append(f"{row.day} ({previous:,} vs {row.passengers:,})")
    if conflicts:
        raise _fail("the same date has different values", conflicts)
    return [DailyCount(d, by_day[d]) for d in sorted(by_day)]


def validate_batch(rows: Iterable[DailyCount], today: date) -> list[DailyCount]:
    """The batch, de-duplicated and ascending; raises ValidationError naming the offending rows."""
    batch = deduplicate(rows)
    if not batch:
        raise ValidationError("the batch is empty; nothing was loaded")
    future = [str(r.day) for r in batch if r.day > today]
    if future:
        raise _fail(f"dates after today ({today})", future)
    implausible = [
        f"{r.day} ({r.passengers:,})" for r in batch if not MIN_PLAUSIBLE <= r.passengers <= MAX_PLAUSIBLE
    ]
    if implausible:
        raise _fail(f"values outside {MIN_PLAUSIBLE:,}-{MAX_PLAUSIBLE:,}", implausible)
    jumps = []
    for before, after in pairwise(batch):
        if after.day - before.day != timedelta(days=1):
            continue
        move = math.log(after.passengers / before.passengers)
        limit = MAX_LOG_MOVE_NEAR_HOLIDAY if near_holiday(after.day) else MAX_LOG_MOVE
        if abs(move) > limit:
            jumps.append(f"{before.day}->{after.day} ({before.passengers:,}->{after.passengers:,})")
    if jumps:
        raise _fail("day-over-day jumps larger than the data has ever shown", jumps)
    return batch


def missing_days(batch: list[DailyCount]) -> list[date]:
    """Calendar days absent between the first and last day of an ascending batch."""
    present = {r.day for r in batch}
    span = (batch[-1].day - batch[0].day).days if batch else 0
    return [d for k in range(span) if (d := batch[0].day + timedelta(days=k)) not in present]
