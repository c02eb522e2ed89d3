"""US travel-holiday windows as 0/1 indicator columns, one per (holiday, day offset).

Prophet gets one regressor per column (`model.fit_week`), so each day around a holiday learns its own
effect, and a holiday that moves weekday or week between years moves its effect with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from dateutil.easter import easter

YOY_LAG_DAYS = 364  # same weekday one year earlier


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    last = dt.date(year, month + 1, 1) - dt.timedelta(days=1) if month < 12 else dt.date(year, 12, 31)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


@dataclass(frozen=True)
class HolidayWindow:
    name: str
    anchor: Callable[[int], dt.date]
    before: int
    after: int


MON, THU = 0, 3
HOLIDAY_WINDOWS: tuple[HolidayWindow, ...] = (
    HolidayWindow("thanksgiving", lambda y: _nth_weekday(y, 11, THU, 4), 8, 5),
    # Christmas through the first week of January as one block aligned on the date.
    HolidayWindow("christmas", lambda y: dt.date(y, 12, 25), 12, 14),
    HolidayWindow("easter", lambda y: easter(y), 9, 3),
    HolidayWindow("memorial", lambda y: _last_weekday(y, 5, MON), 4, 1),
    HolidayWindow("labor", lambda y: _nth_weekday(y, 9, MON, 1), 4, 1),
    HolidayWindow("july4", lambda y: dt.date(y, 7, 4), 5, 5),
    HolidayWindow("mlk", lambda y: _nth_weekday(y, 1, MON, 3), 3, 1),
    HolidayWindow("presidents", lambda y: _nth_weekday(y, 2, MON, 3), 3, 1),
    HolidayWindow("columbus", lambda y: _nth_weekday(y, 10, MON, 2), 3, 1),
)


def holiday_columns(windows: tuple[HolidayWindow, ...] = HOLIDAY_WINDOWS) -> list[str]:
    return [f"{w.name}_{o:+d}" for w in windows for o in range(-w.before, w.after + 1)]


def holiday_indicators(
    dates: pd.DatetimeIndex, windows: tuple[HolidayWindow, ...] = HOLIDAY_WINDOWS
) -> pd.DataFrame:
    """One 0/1 column per holiday and offset: 1 on the day that is ``offset`` days from the holiday."""
    frame = pd.DataFrame(0.0, index=dates, columns=holiday_columns(windows))
    if len(dates) == 0:
        return frame
    ordinals = np.array([d.toordinal() for d in dates.date])
    for window in windows:
        for year in range(dates.min().year - 1, dates.max().year + 2):
            anchor = window.anchor(year).toordinal()
            for offset in range(-window.before, window.after + 1):
                hit = ordinals == anchor + offset
                if hit.any():
                    frame.loc[hit, f"{window.name}_{offset:+d}"] = 1.0
    return frame
