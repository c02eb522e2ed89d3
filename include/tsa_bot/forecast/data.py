"""Loading and validating the daily series the forecasters read.

A forecast made at ``as_of`` sees only the rows dated before ``as_of``: `history_before` is the one place
that cut is made, so every model and baseline is point in time by construction.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from tsa_bot.core.errors import TsaBotError, ValidationError

MIN_HISTORY_DAYS = 400
RECENT_WINDOW_DAYS = 14


class InsufficientData(TsaBotError):
    """There is not enough clean history before ``as_of`` to forecast."""


def load_csv(path: str | Path) -> pd.Series:
    """Read a ``date,passengers`` CSV into a validated daily series (DatetimeIndex, float values)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"data file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path} as CSV: {exc}") from exc
    missing = {"date", "passengers"} - set(frame.columns)
    if missing:
        raise ValidationError(
            f"{path} lacks column(s) {', '.join(sorted(missing))}; expected date,passengers"
        )
    try:
        dates = pd.to_datetime(frame["date"], format="%Y-%m-%d")
        values = pd.to_numeric(frame["passengers"])
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{path} has an unreadable date or passengers value: {exc}") from exc
    return to_series(pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(dates)))


def to_series(series: pd.Series) -> pd.Series:
    """Check a daily series for duplicates, missing or non-positive values; return it sorted by date."""
    index = pd.DatetimeIndex(series.index).normalize()
    values = pd.to_numeric(pd.Series(series.to_numpy(), index=index), errors="coerce").astype(float)
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise ValidationError(f"duplicate dates in the series, first {duplicated[0].date()}")
    bad = values[~(values > 0) | ~np.isfinite(values)]
    if len(bad):
        raise ValidationError(f"non-positive or missing passenger count on {bad.index[0].date()}")
    return values.sort_index().rename("passengers")


def history_before(series: pd.Series, as_of: dt.date) -> pd.Series:
    """The rows a forecast made at ``as_of`` may use, after checking there are enough of them.

    ``as_of`` is the first day whose number is not yet known; it may be at most one day after the last row.
    """
    if len(series) == 0:
        raise InsufficientData("the series is empty")
    cut = pd.Timestamp(as_of)
    last = series.index[-1]
    if cut > last + pd.Timedelta(days=1):
        raise InsufficientData(
            f"as_of {as_of} is after the day following the last data point ({last.date()}); "
            "load the missing days first"
        )
    history = series[series.index < cut]
    if len(history) == 0:
        raise InsufficientData(f"no data before as_of {as_of}")
    span_days = (history.index[-1] - history.index[0]).days + 1
    if span_days < MIN_HISTORY_DAYS:
        raise InsufficientData(
            f"only {span_days} days of history before {as_of}; need at least {MIN_HISTORY_DAYS}"
        )
    recent = pd.date_range(cut - pd.Timedelta(days=RECENT_WINDOW_DAYS), cut - pd.Timedelta(days=1), freq="D")
    missing = recent.difference(history.index)
    if len(missing):
        raise InsufficientData(
            f"gap in the {RECENT_WINDOW_DAYS} days before {as_of}: {len(missing)} day(s) missing, "
            f"first {missing[0].date()}"
        )
    return history


def fill_daily(history: pd.Series) -> pd.Series:
    """Reindex to every calendar day, filling older gaps by log-linear interpolation."""
    full = pd.date_range(history.index[0], history.index[-1], freq="D")
    if len(full) == len(history):
        return history
    logged = np.log(history.reindex(full)).interpolate(limit_direction="both")
    return np.exp(logged).rename(history.name)


def week_start_of(day: dt.date) -> dt.date:
    """The Monday of the Monday–Sunday week containing ``day``."""
    return day - dt.timedelta(days=day.weekday())
