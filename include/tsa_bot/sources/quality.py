"""The data-quality gate between loading and forecasting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from tsa_bot.core.errors import TsaBotError
from tsa_bot.core.publication import newest_published_day
from tsa_bot.warehouse.tsa_daily import first_published_as_of

RECENT_DAYS = 14  # the forecaster refuses a gap in the last two weeks


class DataQualityError(TsaBotError):
    """The warehouse cannot support a forecast at this moment; a retry will not change that."""


class PublicationLate(TsaBotError):
    """TSA has not published a number it normally has by now; later attempts may find it."""

    retryable = True


@dataclass(frozen=True)
class QualityReport:
    as_of: datetime
    newest_day: date
    expected_newest_day: date
    days_known: int

    def as_json(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "newest_day": self.newest_day.isoformat(),
            "expected_newest_day": self.expected_newest_day.isoformat(),
            "days_known": self.days_known,
        }


def check_quality(engine: sa.Engine, as_of: datetime, *, allowed_lag_days: int = 0) -> QualityReport:
    """Raise unless the series known at ``as_of`` is complete for the last two weeks and up to date."""
    series = first_published_as_of(engine, as_of)
    if not series:
        raise DataQualityError(f"no TSA numbers were known at {as_of:%Y-%m-%d %H:%M %Z}; run an ingest first")
    expected = newest_published_day(as_of)
    newest = series[-1].day
    known = {r.day for r in series}
    window_start = expected - timedelta(days=RECENT_DAYS - 1)
    window = (window_start + timedelta(days=k) for k in range((newest - window_start).days))
    gaps = [d for d in window if d not in known]
    if gaps:
        listed = ", ".join(map(str, gaps))
        raise DataQualityError(f"TSA numbers missing in the {RECENT_DAYS} days before {expected}: {listed}")
    if (expected - newest).days > allowed_lag_days:
        raise PublicationLate(
            f"newest TSA number is for {newest}, but {expected} is normally published by "
            f"{as_of:%Y-%m-%d %H:%M %Z}"
        )
    return QualityReport(as_of, newest, expected, len(series))
