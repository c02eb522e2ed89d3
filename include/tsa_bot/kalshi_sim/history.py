"""A run of past weekly KXTSAW events for the simulator to host, settled, with the crowd's quote history.

``HistorySeed(start, end)`` names the weeks whose Monday falls in ``[start, end]``. The truth is the
shipped TSA page set (``tsa_bot/sources/offline_site``) unless a ``date -> passengers`` mapping or a
``date,passengers`` CSV is given.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import mondays_between
from tsa_bot.kalshi_sim.crowd import CrowdParams


@dataclass(frozen=True)
class HistorySeed:
    """Weekly KXTSAW events with Mondays in ``[start, end]``, their quotes drawn by a seeded crowd."""

    start: date
    end: date
    truth: Mapping[date, int] | None = None  # None: the shipped TSA pages
    seed: int = 0
    params: CrowdParams = field(default_factory=CrowdParams)
    strikes: int = 21
    step: int = 50_000

    def mondays(self) -> list[date]:
        return mondays_between(self.start, self.end)

    def daily(self) -> Mapping[date, int]:
        return self.truth if self.truth is not None else shipped_truth()


@functools.cache
def shipped_truth() -> Mapping[date, int]:
    """Daily TSA numbers from the page set shipped with the package (2019 to the end of 2025)."""
    from tsa_bot.sources.offline import site_pages
    from tsa_bot.sources.tsa_page import parse_page

    days: dict[date, int] = {}
    for path, html in site_pages().items():
        for row in parse_page(html, path):
            days.setdefault(row.day, row.passengers)
    return days


def week_view(monday: date, truth: Mapping[date, int]) -> dict[date, int]:
    """The week's seven days as the crowd takes them: the numbers where the data has them, and past the
    data the same weekday a year earlier times the ratio of the last 28 days of data to their year-earlier
    days."""
    days = [monday + timedelta(days=i) for i in range(7)]
    view = {d: truth[d] for d in days if d in truth}
    if len(view) == 7:
        return view
    newest = max((d for d in truth if d < monday + timedelta(days=7)), default=None)
    recent = [newest - timedelta(days=i) for i in range(28)] if newest else []
    try:
        ratio = sum(truth[d] for d in recent) / sum(truth[d - timedelta(days=364)] for d in recent)
        for d in days:
            view.setdefault(d, round(truth[d - timedelta(days=364)] * ratio))
    except (KeyError, ZeroDivisionError, TypeError):
        raise ValueError(f"no TSA numbers to forecast the week of {monday} from") from None
    return view


def truth_from_csv(path: Path) -> dict[date, int]:
    """``date,passengers`` rows, or a one-line ``ConfigurationError`` naming the bad row."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    days = {}
    for number, row in enumerate(rows, start=2):
        try:
            day, passengers = date.fromisoformat(row["date"]), int(row["passengers"])
        except (KeyError, TypeError, ValueError):
            raise ConfigurationError(f"{path} line {number}: expected date,passengers") from None
        if passengers <= 0:
            raise ConfigurationError(f"{path} line {number}: passengers must be positive")
        days[day] = passengers
    return days
