"""The market's crowd: an independent forecaster of the week, and the quotes and trades it makes.

The crowd sees the truth through noise. For each day of the week it has an estimate: the published
number once TSA has published it (``tsa_bot.core.publication``), before that the true number times
``1 + error``. The errors follow an hourly AR(1) process, half shared by the week's days, half per day;
on days that differ from the same weekday a year earlier by more than ``shock`` (holidays, storms,
flight cuts) the crowd knows the news and errs much less. Its weekly mean is the mean of the seven
estimates; its uncertainty is the spread those errors imply, so its probabilities are calibrated and
shrink to certainty as the days are published.

Every hour on the hour the crowd quotes each strike around ``P(mean > strike)``, a thin market's
spread apart, and some of its members trade at those quotes (more near the money). Everything is drawn
from one generator seeded by ``seed`` and the event, in time order, so a quote at hour ``h`` depends only
on what was published by ``h`` and on the draws up to ``h``: cutting the history later changes nothing
before it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from tsa_bot.core.publication import NEW_YORK, publication_time

HOUR = 3600


@dataclass(frozen=True)
class CrowdParams:
    """How good and how busy the crowd is."""

    day_error: float = 0.02  # relative error of its estimate of a day not yet published
    shock_day_error: float = 0.006  # ... of a day it knows is unusual
    shock: float = 0.10  # a day this far from the same weekday a year earlier is news it has heard
    shared: float = 0.5  # the share of error variance common to the week's days
    memory_hours: float = 96.0  # how long an error persists (AR(1) time constant)
    half_spread_cents: int = 2
    depth: tuple[int, int] = (5, 60)  # contracts per quoted level, drawn in this range
    trades_per_hour: float = 0.8  # at the money; fewer in the tails


def week_open(monday: date) -> float:
    """Trading opens at Monday 00:00 New York time."""
    return datetime.combine(monday, time(0), NEW_YORK).timestamp()


def week_close(monday: date) -> float:
    """Trading closes at Sunday 23:59 New York time."""
    return datetime.combine(monday + timedelta(days=6), time(23, 59), NEW_YORK).timestamp()


def settlement_time(monday: date) -> float:
    """The first 10:00 New York time after TSA has published the Sunday."""
    published = publication_time(monday + timedelta(days=6))
    settle = published.replace(hour=10, minute=0, second=0, microsecond=0)
    if settle <= published:
        settle += timedelta(days=1)
    return settle.timestamp()


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


@dataclass
class MarketTape:
    """One strike's hourly quotes (cents, at ``hours``) and its trades, in time order."""

    strike: int
    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray
    trade_ts: np.ndarray  # unix seconds
    trade_price: np.ndarray  # cents
    trade_size: np.ndarray  # contracts
    open_interest: np.ndarray  # after each trade


class WeekCrowd:
    """The crowd's view of one Monday-Sunday week, hour by hour from the open to the close."""

    def __init__(
        self,
        monday: date,
        truth: Mapping[date, int],
        *,
        seed: int = 0,
        key: str = "",
        params: CrowdParams | None = None,
        observed: Collection[date] | None = None,
    ):
        """``truth`` must cover the week; days not in ``observed`` (default: all) are never published, so
        the crowd keeps guessing them (a forecast standing in for the truth past the data's end)."""
        self.monday = monday
        self.params = p = params or CrowdParams()
        self.key = key or monday.isoformat()
        self.seed = seed
        days = [monday + timedelta(days=i) for i in range(7)]
        missing = [d for d in days if d not in truth]
        if missing:
            raise KeyError(f"no TSA number for {missing[0]}")
        actual = np.array([float(truth[d]) for d in days])
        self.value = Decimal(sum(int(truth[d]) for d in days)) / 7  # the week's mean, what settles it
        year_ago = [truth.get(d - timedelta(days=364)) for d in days]
        news = np.array(
            [y is not None and abs(a / y - 1) > p.shock for a, y in zip(actual, year_ago, strict=True)]
        )
        sigma = np.where(news, p.shock_day_error, p.day_error)
        self.open_ts, self.close_ts = week_open(monday), week_close(monday)
        self.hours = np.arange(self.open_ts, self.close_ts, HOUR)
        published = np.array([publication_time(d).timestamp() for d in days])
        published = np.where([observed is None or d in observed for d in days], published, np.inf)
        known = self.hours[:, None] >= published[None, :]  # hour x day

        rng = _rng(seed, self.key)
        rho = math.exp(-1 / p.memory_hours)
        shocks = rng.standard_normal((len(self.hours), 8))
        z = np.empty_like(shocks)
        z[0] = shocks[0]
        for i in range(1, len(self.hours)):
            z[i] = rho * z[i - 1] + math.sqrt(1 - rho * rho) * shocks[i]
        day_z = math.sqrt(p.shared) * z[:, :1] + math.sqrt(1 - p.shared) * z[:, 1:]
        estimate = np.where(known, actual, actual * (1 + sigma * day_z))
        self.mean = estimate.mean(axis=1)
        unknown_sd = np.where(known, 0.0, estimate * sigma)
        variance = p.shared * unknown_sd.sum(axis=1) ** 2 + (1 - p.shared) * (unknown_sd**2).sum(axis=1)
        self.sd = np.sqrt(variance) / 7
        self._rng = rng

    def probability(self, strike: int) -> np.ndarray:
        """The crowd's ``P(weekly mean > strike)`` at each hour."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (strike - self.mean) / self.sd
        certain = np.where(self.mean > strike, 1.0, 0.0)
        erf = np.vectorize(math.erf)
        return np.where(self.sd > 0, 0.5 * (1 - erf(z / math.sqrt(2))), certain)

    def strikes(self, count: int = 21, step: int = 50_000) -> tuple[int, ...]:
        """The ladder Kalshi would list at the open: ``count`` strikes around the crowd's first estimate."""
        middle = round(float(self.mean[0]) / step) * step
        low = middle - (count // 2) * step
        return tuple(low + i * step for i in range(count) if low + i * step > 0)

    def tapes(self, strikes: tuple[int, ...]) -> dict[int, MarketTape]:
        """Each strike's quotes and trades.

        Every kind of draw has its own generator, consumed in time order, so a trade's time, side and size
        depend only on how many trades came before it, never on a later quote.
        """
        p = self.params
        low, high = p.depth
        out = {}
        for strike in strikes:
            counts_rng, sizes_rng, seconds_rng, sides_rng, lots_rng, opens_rng = (
                np.random.default_rng(s)
                for s in np.random.SeedSequence(
                    [self.seed, zlib.crc32(f"{self.key}/{strike}".encode())]
                ).spawn(6)
            )
            fair = np.round(self.probability(strike) * 100)
            bid = np.clip(fair - p.half_spread_cents, 1, 98).astype(int)
            ask = np.clip(fair + p.half_spread_cents, bid + 1, 99).astype(int)
            depth = sizes_rng.integers(low, high + 1, (len(bid), 2))
            activity = p.trades_per_hour * (0.1 + 3.6 * (fair / 100) * (1 - fair / 100))
            counts = counts_rng.poisson(activity)
            hour = np.repeat(np.arange(len(counts)), counts)
            ts = self.hours[hour].astype(np.int64) + seconds_rng.integers(1, HOUR + 1, len(hour))
            order = np.argsort(ts, kind="stable")  # within each hour; hours are already in order
            hour, ts = hour[order], ts[order]
            price = np.where(sides_rng.random(len(hour)) < 0.5, ask[hour], bid[hour])
            sizes = lots_rng.integers(1, 21, len(hour))
            interest = np.empty(len(sizes), dtype=int)
            running = 0
            for i, (n, opened) in enumerate(
                zip(sizes.tolist(), (opens_rng.random(len(sizes)) < 0.6).tolist(), strict=True)
            ):
                running = running + n if opened or running < n else running - n
                interest[i] = running
            keep = ts < self.close_ts
            out[strike] = MarketTape(
                strike, bid, ask, depth[:, 0], depth[:, 1], ts[keep], price[keep], sizes[keep], interest[keep]
            )
        return out
