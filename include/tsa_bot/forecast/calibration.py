"""Spread calibration from the forecaster's own past out-of-sample errors.

For each known-days count the errors are ``log(actual remaining sum / forecast remaining sum)`` of earlier
weeks, each forecast made exactly as the live one would have been then. Only weeks that ended before the
forecast week begins are used, so a backtest never calibrates on the period it evaluates.

The model's errors are also scaled by how large its errors have lately been against how large they were
before each past week (locally adaptive conformal calibration): that ratio to the power 0.75, a partial
scaling, gave the lowest Brier score over 2023 and 2024 together (0.5 and 1.0 were close behind).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_CALIBRATION_WEEKS = 52
MIN_CALIBRATION_WEEKS = 8  # fewer past errors make no usable spread
# The ``calibration_weeks`` param of every DAG that forecasts, as ``Param(**CALIBRATION_WEEKS_PARAM)``:
# the default and the JSON schema's bounds (at most two years of weeks, each one more refit).
CALIBRATION_WEEKS_PARAM = {
    "default": DEFAULT_CALIBRATION_WEEKS,
    "type": "integer",
    "minimum": MIN_CALIBRATION_WEEKS,
    "maximum": 104,
}
VOLATILITY_POWER = 0.75
_MIN_VOLATILITY = 1e-4


@dataclass(frozen=True)
class PastError:
    week_start: dt.date
    known_days: int
    log_error: float
    # The forecaster's recent mean |log error| when that week was forecast; None for a model without one.
    volatility: float | None = None


def errors_before(
    history: Sequence[PastError],
    week_start: dt.date,
    known_days: int,
    weeks: int = DEFAULT_CALIBRATION_WEEKS,
    volatility: float | None = None,
) -> list[float]:
    """Errors at ``known_days`` of the ``weeks`` weeks before ``week_start`` (whole weeks only).

    With ``volatility`` (the forecaster's recent mean |log error| now), each error that carries its own
    is scaled by ``(volatility / its volatility) ** VOLATILITY_POWER``.
    """
    earliest = week_start - dt.timedelta(weeks=weeks)
    picked = [
        e
        for e in history
        if e.known_days == known_days and earliest <= e.week_start <= week_start - dt.timedelta(days=7)
    ]
    if volatility is None or not np.isfinite(volatility):
        return [e.log_error for e in picked]
    now = max(volatility, _MIN_VOLATILITY)
    return [
        e.log_error
        if e.volatility is None or not np.isfinite(e.volatility)
        else e.log_error * (now / max(e.volatility, _MIN_VOLATILITY)) ** VOLATILITY_POWER
        for e in picked
    ]


def kernel_bandwidth(errors: Sequence[float]) -> float:
    """Silverman's rule, robust to a few outlying weeks (shutdowns, storms)."""
    values = np.asarray(errors, dtype=float)
    if values.size < 2:
        return 0.01
    iqr = float(np.subtract(*np.percentile(values, [75, 25])))
    scale = min(float(values.std(ddof=1)), iqr / 1.349) if iqr > 0 else float(values.std(ddof=1))
    return max(0.9 * scale * values.size ** (-0.2), 1e-4)
