"""When TSA publishes a day's number: the next weekday by about 9 a.m. ET; Friday-Sunday on Monday.

Used to rebuild what was known at a past moment (days loaded from the archive after the fact have no
real first-seen time of their own) and to tell whether today's number is late.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from tsa_bot.core.market import NEW_YORK

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
