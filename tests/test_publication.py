from datetime import date, datetime

import pytest

from tsa_bot.core.publication import NEW_YORK, newest_published_day, publication_time


@pytest.mark.parametrize(
    ("day", "published"),
    [
        (date(2026, 11, 16), datetime(2026, 11, 17, 9, tzinfo=NEW_YORK)),  # Monday -> Tuesday
        (date(2026, 11, 19), datetime(2026, 11, 20, 9, tzinfo=NEW_YORK)),  # Thursday -> Friday
        (date(2026, 11, 20), datetime(2026, 11, 23, 9, tzinfo=NEW_YORK)),  # Friday -> Monday
        (date(2026, 11, 22), datetime(2026, 11, 23, 9, tzinfo=NEW_YORK)),  # Sunday -> Monday
    ],
)
def test_publication_time(day, published):
    assert publication_time(day) == published


@pytest.mark.parametrize(
    ("as_of", "newest"),
    [
        (datetime(2026, 11, 24, 8, 59, tzinfo=NEW_YORK), date(2026, 11, 22)),  # Tuesday before 9: Sunday
        (datetime(2026, 11, 24, 9, 30, tzinfo=NEW_YORK), date(2026, 11, 23)),  # Tuesday 9:30: Monday
        (datetime(2026, 11, 28, 12, 0, tzinfo=NEW_YORK), date(2026, 11, 26)),  # Saturday: Thursday
        (datetime(2026, 11, 30, 9, 0, tzinfo=NEW_YORK), date(2026, 11, 29)),  # Monday 9:00: Sunday
    ],
)
def test_newest_published_day(as_of, newest):
    assert newest_published_day(as_of) == newest
