"""The forecast distribution of one week's mean daily passengers, and the strike grid it is priced on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Kalshi's KXTSAW strikes: "above 1.50 M" … "above 3.20 M".
STRIKES: tuple[int, ...] = tuple(range(1_500_000, 3_200_001, 50_000))
DAYS_PER_WEEK = 7
# Standard-normal quantiles used to smooth each calibration error into a small kernel (deterministic).
_KERNEL_POINTS = 21


@dataclass(frozen=True)
class WeekForecast:
    """Samples of the Monday–Sunday mean, made at ``as_of`` with ``known_days`` of the week already known."""

    week_start: dt.date
    as_of: dt.date
    known_days: int
    model_version: str
    samples: tuple[float, ...]  # sorted ascending

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a WeekForecast needs at least one sample")
        if not 0 <= self.known_days < DAYS_PER_WEEK:
            raise ValueError(f"known_days must be 0..6, got {self.known_days}")

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples))

    def quantile(self, q: float) -> float:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile level must be in [0, 1], got {q}")
        return float(np.quantile(np.asarray(self.samples), q))

    def prob_above(self, strike: float) -> float:
        """P(weekly mean > strike), strictly greater, as Kalshi's "above" contracts settle."""
        values = np.asarray(self.samples)
        return float(len(values) - np.searchsorted(values, strike, side="right")) / len(values)

    def strike_probabilities(self, strikes: Sequence[int] = STRIKES) -> dict[int, float]:
        return {int(s): self.prob_above(s) for s in strikes}


def kernel_offsets(points: int = _KERNEL_POINTS) -> np.ndarray:
    from statistics import NormalDist

    normal = NormalDist()
    return np.array([normal.inv_cdf((i + 0.5) / points) for i in range(points)])


def week_mean_samples(
    known_sum: float, remaining_point: float, log_errors: Sequence[float], bandwidth: float
) -> np.ndarray:
    """Sorted samples of the week mean: known days exactly, the remaining days' sum scaled by each error.

    ``log_errors`` are past out-of-sample errors ``log(actual / forecast)`` of the remaining days' *sum*,
    so the correlation of errors across those days is carried whole; each is widened by a Gaussian kernel
    of width ``bandwidth`` so probabilities vary smoothly with the strike. The smoothed errors are then
    pulled toward their mean so that their variance stays the errors' own (Silverman's shrunk kernel
    estimate): a plain kernel adds ``bandwidth²`` of variance and over-covered in every year backtested.
    """
    errors = np.asarray(log_errors, dtype=float)
    if errors.size == 0:
        raise ValueError("no calibration errors to build a distribution from")
    spread = (errors[:, None] + bandwidth * kernel_offsets()[None, :]).ravel()
    own_variance = float(errors.var())
    if own_variance > 0:
        center = float(errors.mean())
        spread = center + (spread - center) * np.sqrt(own_variance / float(spread.var()))
    return np.sort((known_sum + remaining_point * np.exp(spread)) / DAYS_PER_WEEK)


def build_forecast(
    week_start: dt.date,
    known_days: int,
    model_version: str,
    known_sum: float,
    remaining_point: float,
    log_errors: Sequence[float],
    bandwidth: float,
) -> WeekForecast:
    samples = week_mean_samples(known_sum, remaining_point, log_errors, bandwidth)
    return WeekForecast(
        week_start=week_start,
        as_of=week_start + dt.timedelta(days=known_days),
        known_days=known_days,
        model_version=model_version,
        samples=tuple(float(x) for x in samples),
    )
