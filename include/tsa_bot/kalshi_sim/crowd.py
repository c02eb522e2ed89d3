"""The market's crowd: a forecaster of the week that reads the public numbers and has a view of its own,
and the quotes and trades it makes.

**Its view.** For each day of the week the crowd has an estimate: the published number once TSA has
published it (``tsa_bot.core.publication``); before that a blend, in logs, of two views:

- the *public* forecast of the day, from what TSA had published by that hour only: the YoY baseline's
  estimate (``tsa_bot.forecast.baseline.yoy_remaining_forecast``: the same weekday a year earlier times
  the ratio of the last seven published days to their year-earlier days). It changes only when a new day
  is published, and it errs as the baseline errs;
- its *private* view: the truth times ``1 + noise``, the noise an hourly AR(1) process, ``shared`` of
  its variance common to the week's days.

``log estimate = w·log(public) + (1 − w)·log(truth·(1 + noise))`` with ``w = public_weight``. So the
crowd's errors share the public forecast's errors, and a trader who only has the public forecast has
nothing the crowd lacks. At the efficient weight (``CrowdParams.efficient_weight``, ``day_error² /
(public_error² + day_error²)``, 0.34) the crowd's estimate would be the best blend of the two views and the
public forecast would have no edge on it on average; the crowd leans a little more on the public forecast
(``w`` = 0.4), as markets lean on the numbers everyone reads, so the forecast's disagreements with it are,
on average, the forecast's own mistakes. On days that differ from the same weekday a year earlier by more
than ``shock`` (holidays moving weekday, storms, flight cuts) the crowd knows the news: it ignores the
year-earlier day and errs much less. Where no public forecast can be made (no year-earlier data) it has
only its private view.

Its weekly mean is the mean of the seven estimates, and its uncertainty the spread both components imply
(the public part with the public forecast's measured error and correlation between days, the private part
with the noise's), so its probabilities are calibrated and shrink to certainty as the days are published.
``CrowdParams.independent()`` is the crowd before issue 19: the truth through independent noise only, with
always two-sided quotes 2¢ either side of fair (the same draws as then, number for number).

**Its market.** Every hour on the hour the crowd quotes each strike around ``P(mean > strike)``. With real
shapes (the default) the quotes look like Kalshi's: spreads of 1–6¢, wider early in the week (uncertain)
and away from the money (thin); deep strikes have one side only (no offer above a YES near 1, no bid under
one near 0: ``ask`` 100 / ``bid`` 0 on the tape, as Kalshi reports an empty side); trades come at the
quoted sides, more near the money and in the New York day and right after TSA publishes, so a day's
volume runs from 0 to about 1,500 contracts a strike. Nothing rests after the close.

Everything is drawn from generators seeded by ``seed`` and the event, in time order, so a quote at hour
``h`` depends only on what was published by ``h`` and on the draws up to ``h``: cutting the history later
changes nothing before it.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from tsa_bot.core.publication import NEW_YORK, publication_time
from tsa_bot.forecast.calendar import YOY_LAG_DAYS

HOUR = 3600
NO_BID, NO_ASK = 0, 100  # cents on the tape: an empty side, as Kalshi reports it (yes_bid 0, yes_ask 1)
_LAG = timedelta(days=YOY_LAG_DAYS)


@dataclass(frozen=True)
class CrowdParams:
    """How good and how busy the crowd is, and the shapes its quotes take."""

    # w, the public forecast's weight in the crowd's log estimate: a little above the efficient weight
    # (0.34 with the errors below), as a market leans on the numbers everyone reads (``efficient_weight``).
    public_weight: float = 0.4
    # What the crowd knows of the public forecast's error on a day that is not news (its stated
    # uncertainty's public part): measured on 2023-2025, relative sd 3.5%, correlation 0.5 between days.
    public_error: float = 0.035
    public_shared: float = 0.5
    day_error: float = 0.025  # relative error of its private view of a day not yet published
    shock_day_error: float = 0.006  # ... of a day it knows is unusual
    shock: float = 0.10  # a day this far from the same weekday a year earlier is news it has heard
    shared: float = 0.5  # the share of private error variance common to the week's days
    memory_hours: float = 96.0  # how long a private error persists (AR(1) time constant)
    real_shapes: bool = True  # Kalshi's shapes; False: the old always two-sided, fixed-spread quotes
    half_spread_cents: int = 2  # without real shapes: the fixed distance of each side from fair
    max_spread_cents: int = 6  # with real shapes: the widest two-sided spread
    tail_cents: float = 2.5  # a fair value this close to 0 (1) leaves no bid (offer)
    thin_cents: float = 1.5  # how much wider the spread is away from the money
    depth: tuple[int, int] = (5, 60)  # contracts per quoted level, drawn in this range
    trades_per_hour: float = 2.5  # at the money in the New York day; fewer in the tails and at night
    mean_lot: float = 20.0  # with real shapes: the mean size of a trade (geometric; without: 1 to 20)

    @property
    def efficient_weight(self) -> float:
        """The weight that blends the two views best, ``day_error² / (public_error² + day_error²)``: with it
        the public forecast has no edge on the crowd on average; above it, the crowd leans on the public
        forecast and the forecast's disagreements with the crowd are, on average, its own mistakes."""
        return self.day_error**2 / (self.public_error**2 + self.day_error**2)

    @classmethod
    def independent(cls) -> CrowdParams:
        """The crowd before issue 19: the truth through noise independent of any public forecast, quoting
        two-sided 2¢ either side of fair, trading 1 to 20 contracts at a time."""
        return cls(public_weight=0.0, day_error=0.02, real_shapes=False, trades_per_hour=0.8)


PRESETS = {"new": CrowdParams, "old": CrowdParams.independent}


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


def public_forecast(
    truth: Mapping[date, int], newest: date, day: date, published: Collection[date] | None = None
) -> float | None:
    """The YoY baseline's estimate of ``day`` when ``newest`` is the latest published day: the same weekday
    a year earlier times the ratio of the seven days to ``newest`` to their year-earlier days. None when
    the data lack a day it needs (or, with ``published``, a recent day is not among them)."""
    recent = [newest - timedelta(days=i) for i in range(7)]
    if published is not None and any(d not in published for d in recent):
        return None
    try:
        ratio = sum(truth[d] for d in recent) / sum(truth[d - _LAG] for d in recent)
        return truth[day - _LAG] * ratio
    except (KeyError, ZeroDivisionError):
        return None


@dataclass
class MarketTape:
    """One strike's hourly quotes (cents, at ``hours``; ``NO_BID``/``NO_ASK`` for an empty side) and its
    trades, in time order."""

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
    """The crowd's view of one Monday-Sunday week, hour by hour from the open to the close.

    ``public`` (hour x day) is the public forecast it read (NaN where it has none or the day is known),
    ``estimate`` its estimate of each day, ``mean`` and ``sd`` its weekly mean and uncertainty.
    """

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
        """``truth`` must cover the week (and, for the public forecast, the year before); days not in
        ``observed`` (default: all) are never published, so the crowd keeps guessing them (a forecast
        standing in for the truth past the data's end)."""
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
        year_ago = [truth.get(d - _LAG) for d in days]
        news = np.array(
            [y is not None and abs(a / y - 1) > p.shock for a, y in zip(actual, year_ago, strict=True)]
        )
        self.open_ts, self.close_ts = week_open(monday), week_close(monday)
        self.hours = np.arange(self.open_ts, self.close_ts, HOUR)
        published = np.array([publication_time(d).timestamp() for d in days])
        published = np.where([observed is None or d in observed for d in days], published, np.inf)
        known = self.hours[:, None] >= published[None, :]  # hour x day
        self.public = self._public(truth, days, observed) if p.public_weight else np.full(known.shape, np.nan)
        self.public[known] = np.nan

        rng = _rng(seed, self.key)
        rho = math.exp(-1 / p.memory_hours)
        shocks = rng.standard_normal((len(self.hours), 8))
        z = np.empty_like(shocks)
        z[0] = shocks[0]
        for i in range(1, len(self.hours)):
            z[i] = rho * z[i - 1] + math.sqrt(1 - rho * rho) * shocks[i]
        day_z = math.sqrt(p.shared) * z[:, :1] + math.sqrt(1 - p.shared) * z[:, 1:]
        # The private view's error and the public forecast's weight, per hour and day.
        sigma = np.broadcast_to(np.where(news, p.shock_day_error, p.day_error), known.shape)
        weight = np.where(news[None, :] | np.isnan(self.public), 0.0, p.public_weight)
        private = actual * (1 + sigma * day_z)
        with np.errstate(invalid="ignore", divide="ignore"):
            blended = np.exp(
                weight * np.log(np.where(weight > 0, self.public, 1.0)) + (1 - weight) * np.log(private)
            )
        # Without a public part the estimate is the private view itself, exactly as the crowd before it.
        estimate = np.where(weight > 0, blended, private)
        self.estimate = np.where(known, actual, estimate)
        self.mean = self.estimate.mean(axis=1)
        # Its uncertainty, each part with its own correlation between days; known days add nothing.
        scale = np.where(known, 0.0, self.estimate)
        public_sd = scale * weight * p.public_error
        private_sd = scale * (1 - weight) * sigma
        variance = (
            p.public_shared * public_sd.sum(axis=1) ** 2
            + (1 - p.public_shared) * (public_sd**2).sum(axis=1)
            + p.shared * private_sd.sum(axis=1) ** 2
            + (1 - p.shared) * (private_sd**2).sum(axis=1)
        )
        self.sd = np.sqrt(variance) / 7
        self._published = published
        self._rng = rng

    def _public(
        self, truth: Mapping[date, int], days: list[date], observed: Collection[date] | None
    ) -> np.ndarray:
        """The public forecast of each day at each hour, from the days published by then (NaN: none)."""
        candidates = [days[0] - timedelta(days=i) for i in range(14, 0, -1)] + days
        seen = [d for d in candidates if d in truth and (observed is None or d in observed)]
        out = np.full((len(self.hours), len(days)), np.nan)
        if not seen:
            return out
        out_ts = np.array([publication_time(d).timestamp() for d in seen])
        # The newest published day at each hour (publication times rise with the day).
        newest = np.searchsorted(out_ts, self.hours, side="right") - 1
        published = set(observed) if observed is not None else None
        for n in np.unique(newest):
            if n < 0:
                continue
            row = [public_forecast(truth, seen[n], d, published) for d in days]
            out[newest == n] = [np.nan if v is None else v for v in row]
        return out

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
        make = self._real_tape if self.params.real_shapes else self._plain_tape
        return {strike: make(strike) for strike in strikes}

    def _generators(self, strike: int, count: int) -> list[np.random.Generator]:
        seq = np.random.SeedSequence([self.seed, zlib.crc32(f"{self.key}/{strike}".encode())])
        return [np.random.default_rng(s) for s in seq.spawn(count)]

    def _plain_tape(self, strike: int) -> MarketTape:
        """Always two-sided quotes ``half_spread_cents`` either side of fair; 1 to 20 contracts a trade."""
        p = self.params
        low, high = p.depth
        counts_rng, sizes_rng, seconds_rng, sides_rng, lots_rng, opens_rng = self._generators(strike, 6)
        fair = np.round(self.probability(strike) * 100)
        bid = np.clip(fair - p.half_spread_cents, 1, 98).astype(int)
        ask = np.clip(fair + p.half_spread_cents, bid + 1, 99).astype(int)
        depth = sizes_rng.integers(low, high + 1, (len(bid), 2))
        activity = p.trades_per_hour * (0.1 + 3.6 * (fair / 100) * (1 - fair / 100))
        counts = counts_rng.poisson(activity)
        hour, ts = self._trade_times(counts, seconds_rng)
        price = np.where(sides_rng.random(len(hour)) < 0.5, ask[hour], bid[hour])
        sizes = lots_rng.integers(1, 21, len(hour))
        return self._tape(strike, bid, ask, depth[:, 0], depth[:, 1], ts, price, sizes, opens_rng)

    def _real_tape(self, strike: int) -> MarketTape:
        """Kalshi's shapes: spreads of 1 to ``max_spread_cents``, wider when the week is uncertain and away
        from the money; a side left empty where fair is within ``tail_cents`` of it; trades at the quoted
        sides, busiest at the money, in the New York day and just after TSA publishes."""
        p = self.params
        low, high = p.depth
        spread_rng, place_rng, sizes_rng, counts_rng, seconds_rng, sides_rng, lots_rng, opens_rng = (
            self._generators(strike, 8)
        )
        prob = self.probability(strike)
        fair = prob * 100
        n = len(fair)
        sure = 4 * prob * (1 - prob)  # 1 at the money, 0 at certainty
        doubt = np.clip(self.sd / self.sd[0], 0, 1) if self.sd[0] > 0 else np.zeros(n)
        width = (1 + 2.5 * doubt + p.thin_cents * (1 - sure)) * np.exp(0.45 * spread_rng.standard_normal(n))
        spread = np.clip(np.round(width), 1, p.max_spread_cents).astype(int)
        bid = np.round(fair - spread * place_rng.uniform(0.25, 0.75, n)).astype(int)
        ask = bid + spread
        no_bid = (fair < p.tail_cents) | (bid < 1)
        no_ask = (fair > 100 - p.tail_cents) | (ask > 99)
        bid = np.where(no_bid, NO_BID, np.minimum(bid, 99))
        ask = np.where(no_ask, NO_ASK, np.maximum(ask, 1))
        depth = sizes_rng.integers(low, high + 1, (n, 2))
        bid_size, ask_size = np.where(no_bid, 0, depth[:, 0]), np.where(no_ask, 0, depth[:, 1])

        activity = p.trades_per_hour * sure**1.5 * self.busy
        counts = counts_rng.poisson(np.where(no_bid & no_ask, 0.0, activity))
        hour, ts = self._trade_times(counts, seconds_rng)
        at_ask = sides_rng.random(len(hour)) < 0.5
        at_ask = np.where(no_ask[hour], False, np.where(no_bid[hour], True, at_ask))
        price = np.where(at_ask, ask[hour], bid[hour])
        sizes = np.minimum(lots_rng.geometric(1 / p.mean_lot, len(hour)), 10 * round(p.mean_lot))
        return self._tape(strike, bid, ask, bid_size, ask_size, ts, price, sizes, opens_rng)

    @functools.cached_property
    def busy(self) -> np.ndarray:
        """How busy each hour is: quiet at night (New York), busy in the day, busier as TSA publishes."""
        local = [datetime.fromtimestamp(h, UTC).astimezone(NEW_YORK).hour for h in self.hours.tolist()]
        by_hour = np.array([0.15] * 7 + [0.6] * 2 + [1.4] * 8 + [0.8] * 7)
        busy = by_hour[local]
        news = np.zeros(len(self.hours), dtype=bool)
        for ts in self._published[np.isfinite(self._published)]:
            news |= (self.hours >= ts) & (self.hours < ts + 3 * HOUR)
        return np.where(news, 2.5 * busy, busy)

    def _trade_times(
        self, counts: np.ndarray, seconds_rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        hour = np.repeat(np.arange(len(counts)), counts)
        ts = self.hours[hour].astype(np.int64) + seconds_rng.integers(1, HOUR + 1, len(hour))
        order = np.argsort(ts, kind="stable")  # within each hour; hours are already in order
        return hour[order], ts[order]

    def _tape(
        self,
        strike: int,
        bid: np.ndarray,
        ask: np.ndarray,
        bid_size: np.ndarray,
        ask_size: np.ndarray,
        ts: np.ndarray,
        price: np.ndarray,
        sizes: np.ndarray,
        opens_rng: np.random.Generator,
    ) -> MarketTape:
        interest = np.empty(len(sizes), dtype=int)
        running = 0
        for i, (n, opened) in enumerate(
            zip(sizes.tolist(), (opens_rng.random(len(sizes)) < 0.6).tolist(), strict=True)
        ):
            running = running + n if opened or running < n else running - n
            interest[i] = running
        keep = ts < self.close_ts
        return MarketTape(
            strike, bid, ask, bid_size, ask_size, ts[keep], price[keep], sizes[keep], interest[keep]
        )
