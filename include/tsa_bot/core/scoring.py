"""How a forecast is scored against the week's outcome, one way for every caller: the backtest, the
settlement of a finished week (whose stored scores the UI shows) and anything after.

Each strike is a yes/no question with Kalshi's strict "above": a mean exactly on the strike is a NO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

# Probabilities are clipped to [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP] before the log loss: a confident
# miss then costs -log(0.001) = 6.9 rather than infinity, and a confident hit about 0.001 rather than 0.
PROBABILITY_CLIP = 1e-3


def outcomes(strikes: Iterable[float], actual_mean: float) -> np.ndarray:
    """1.0 where the week's mean ended strictly above the strike, else 0.0."""
    return (actual_mean > np.asarray(list(strikes), dtype=float)).astype(float)


def brier(probabilities: Iterable[float], resolved: Iterable[float]) -> float:
    """Mean squared difference between P(above) and the outcome (0 is perfect, 1 the worst)."""
    p, y = np.asarray(list(probabilities), dtype=float), np.asarray(list(resolved), dtype=float)
    return float(np.mean((p - y) ** 2))


def log_loss(probabilities: Iterable[float], resolved: Iterable[float]) -> float:
    """Mean negative log likelihood of the outcomes, probabilities clipped by :data:`PROBABILITY_CLIP`."""
    p = np.clip(np.asarray(list(probabilities), dtype=float), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    y = np.asarray(list(resolved), dtype=float)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def strike_scores(prob_above: Mapping[float, float], actual_mean: float) -> tuple[float, float]:
    """(Brier, log loss) of ``{strike: P(mean > strike)}`` once the week's mean is known."""
    resolved = outcomes(prob_above.keys(), actual_mean)
    return brier(prob_above.values(), resolved), log_loss(prob_above.values(), resolved)


@dataclass(frozen=True)
class ForecastScore:
    """How one forecast of a week did once the week's mean is known."""

    abs_pct_error: float  # |forecast mean - actual mean| / actual mean
    in_80_interval: bool  # the actual mean within the forecast's 10 % .. 90 % quantiles (inclusive)
    brier: float  # over the strike grid, see :func:`strike_scores`
    log_loss: float


def score_forecast(
    prob_above: Mapping[float, float], actual_mean: float, mean: float, q10: float, q90: float
) -> ForecastScore:
    """A forecast (mean ``mean``, 80 % interval [q10, q90], strike probabilities) against the week."""
    week_brier, week_log_loss = strike_scores(prob_above, actual_mean)
    return ForecastScore(
        abs(mean - actual_mean) / actual_mean, q10 <= actual_mean <= q90, week_brier, week_log_loss
    )
