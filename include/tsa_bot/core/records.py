"""The TSA records the sources produce and the warehouse stores: below both, so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, order=True)
class DailyCount:
    """People screened at TSA checkpoints on one day, as one page showed it."""

    day: date
    passengers: int


@dataclass(frozen=True)
class FetchedPage:
    """One page as fetched: where from, when, and its text (kept raw in the warehouse)."""

    url: str
    fetched_at: datetime
    html: str
