"""When TSA publishes a day's number: the next weekday by about 9 a.m. ET; Friday-Sunday on Monday.

Used to rebuild what was known at a past moment (days loaded from the archive after the fact have no
real first-seen time of their own) and to tell whether today's number is late.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from tsa_bot.core.market import NEW_YORK, event_sunday

PUBLICATION_HOUR = 9


def publication_time(day: date) -> datetime:
    """The moment (America/New_York) by which TSA has published ``day``'s number."""
    published_on = day + timedelta(days=1)
    while published_on.weekday() >= 5:  # Saturday, Sunday: wait for Monday
        published_on += timedelta(days=1)
    return datetime.combine(published_on, time(PUBLICATION_HOUR), NEW_YORK)


def newest_published_day(as_of: datetime) -> date:
    """The latest day whose number TSA has published by ``as_of``."""
    day = as_of.astimezone(NEW_YORK).date()
    while publication_time(day) > as_of:
        day -= timedelta(days=1)
    return day


def known_days_at(monday: date, moment: datetime) -> int:
    """How many days of the week starting ``monday`` TSA had published by ``moment`` (0-7)."""
    return sum(1 for i in range(7) if publication_time(monday + timedelta(days=i)) <= moment)


def event_known_days(event_ticker: str, moment: datetime) -> int:
    """:func:`known_days_at` for the week ``KXTSAW-26FEB15`` settles on (Monday 2026-02-09 to its Sunday).
    Raises as :func:`~tsa_bot.core.market.event_sunday` does if the ticker names no date."""
    return known_days_at(event_sunday(event_ticker) - timedelta(days=6), moment)
