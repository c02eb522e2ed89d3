"""The model's and the YoY baseline's forecasts at each trading moment, point in time, sharing the fits.

What is known at a moment is what TSA had published by then (:mod:`tsa_bot.core.publication`, the schedule the
DAG uses): the week's first ``k`` days, where ``k`` counts the days published by the moment and present in
the data. The forecast of (week, k) is the backtest's (``forecast.forecaster.forecast_weeks``): a Prophet
fit on rows before the Monday, the known days entering only through rows dated before Monday + k, and a
spread from weeks that ended before the Monday. Every row it reads was published by the moment.

One Prophet fit per week serves all its days: the weeks are first forecast together (in parallel, every
known-days count) into a point cache, and each week is then read back from it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from tsa_bot.core.publication import publication_time
from tsa_bot.forecast.cache import PointCache, cache_key
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.data import InsufficientData
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.forecaster import DEFAULT_WORKERS, forecast_weeks
from tsa_bot.forecast.model import DEFAULT_PARAMS, MODEL_VERSION

KNOWN_DAYS = (0, 1, 2, 3, 4)  # Saturday and Sunday's moments know Monday–Thursday at most


def known_days(series: pd.Series, monday: dt.date, moment: datetime) -> int:
    """The week's days TSA had published by ``moment`` and the data holds, counted from Monday."""
    present = set(series.index[(series.index >= pd.Timestamp(monday))].date[:7])
    k = 0
    while k < 7:
        day = monday + dt.timedelta(days=k)
        if day not in present or publication_time(day) > moment:
            break
        k += 1
    return k


def _raw(payload: Any) -> Any:
    return payload


class MemoryCache:
    """The forecast cache's interface in memory, over an optional file cache."""

    def __init__(self, disk: PointCache | None = None) -> None:
        self._entries: dict[str, Any] = {}
        self._disk = disk

    def get(self, key: str, decode: Callable[[Any], Any]) -> Any | None:
        if key in self._entries:
            return decode(self._entries[key])
        return self._disk.get(key, decode) if self._disk is not None else None

    def put(self, key: str, payload: Any) -> None:
        self._entries[key] = payload
        if self._disk is not None:
            self._disk.put(key, payload)


@dataclass(frozen=True)
class WeekForecasts:
    """A week's forecasts by known-days count, or why there are none."""

    model: dict[int, WeekForecast]
    baseline: dict[int, WeekForecast]
    reason: str = ""


class Forecaster:
    def __init__(
        self,
        series: pd.Series,
        *,
        calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
        workers: int = DEFAULT_WORKERS,
        cache: PointCache | None = None,
    ) -> None:
        self.series = series
        self.calibration_weeks = calibration_weeks
        self.workers = workers
        self.cache = MemoryCache(cache)
        self._weeks: dict[dt.date, WeekForecasts] = {}

    def warm(self, mondays: Sequence[dt.date]) -> None:
        """Fit every week at once (in parallel) into the cache; weeks that cannot be forecast stay out."""
        # A week that cannot be forecast is asked again on its own below, and gets its own reason.
        with contextlib.suppress(InsufficientData):
            forecast_weeks(
                self.series,
                mondays,
                KNOWN_DAYS,
                calibration_weeks=self.calibration_weeks,
                workers=self.workers,
                cache=self.cache,
            )

    def _reuse_earlier_weeks(self, rows: pd.Series, monday: dt.date, ks: tuple[int, ...]) -> None:
        """Cache the earlier weeks' points at ``ks`` from their points at every count, where those exist.

        A week whose data stop mid-week is forecast at fewer known-days counts, and the cache is keyed by
        the counts asked for. Each count's point comes from the same fit, independently of the others, so
        the points at ``ks`` are a subset of the points at ``KNOWN_DAYS``: no earlier week is refitted.
        """
        for i in range(1, self.calibration_weeks + 1):
            week = monday - dt.timedelta(weeks=i)
            earlier = rows[rows.index < pd.Timestamp(week + dt.timedelta(days=7))]
            found = self.cache.get(cache_key(MODEL_VERSION, DEFAULT_PARAMS, week, KNOWN_DAYS, earlier), _raw)
            if found is not None:
                subset = found if isinstance(found, dict) else [p for p in found if p["known_days"] in ks]
                self.cache.put(cache_key(MODEL_VERSION, DEFAULT_PARAMS, week, ks, earlier), subset)

    def week(self, monday: dt.date) -> WeekForecasts:
        """The week's forecasts at every known-days count its data reach (all of 0..4 normally)."""
        if monday in self._weeks:
            return self._weeks[monday]
        rows = self.series[self.series.index < pd.Timestamp(monday + dt.timedelta(days=7))]
        present = known_days(rows, monday, datetime.max.replace(tzinfo=dt.UTC))
        ks = KNOWN_DAYS if present >= max(KNOWN_DAYS) else tuple(range(present + 1))
        if ks != KNOWN_DAYS:
            self._reuse_earlier_weeks(rows, monday, ks)
        try:
            scored = forecast_weeks(
                rows,
                [monday],
                ks,
                calibration_weeks=self.calibration_weeks,
                workers=self.workers,
                cache=self.cache,
            )
        except InsufficientData as exc:
            found = WeekForecasts({}, {}, str(exc))
        else:
            found = WeekForecasts(
                {k: s[0].model for k, s in scored.items() if s},
                {k: s[0].baseline for k, s in scored.items() if s},
            )
        self._weeks[monday] = found
        return found
