"""What the simulator lists: a KXTSAW event's strikes and the house liquidity resting around them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from tsa_bot.core.market import event_ticker_for_week
from tsa_bot.kalshi.models import DEFAULT_PRICE_RANGES, PriceRange


@dataclass(frozen=True)
class EventSeed:
    """The KXTSAW event the simulator lists, with resting house liquidity around a logistic curve."""

    event_ticker: str = "KXTSAW-26FEB15"
    series_ticker: str = "KXTSAW"
    strikes: tuple[int, ...] = tuple(range(1_800_000, 2_800_001, 50_000))
    center: int = 2_300_000  # the strike whose seeded mid is 0.50
    scale: int = 100_000  # logistic scale of the seeded mids, in passengers
    mids: Mapping[int, Decimal] | None = None  # explicit mids per strike, overriding center/scale
    # Explicit best YES bid and ask per strike (None: that side empty), overriding the mids: the book then
    # rests ``levels`` levels a cent apart from each, none on an empty side.
    books: Mapping[int, tuple[Decimal | None, Decimal | None]] | None = None
    half_spread: Decimal = Decimal("0.02")
    levels: int = 3
    depth: Decimal = Decimal("50")  # contracts per level
    fee_type: str = "quadratic"
    fee_multiplier: Decimal = Decimal(1)
    price_ranges: tuple[PriceRange, ...] = DEFAULT_PRICE_RANGES
    status: str = "active"

    @classmethod
    def for_week(
        cls, day: date, center: int = 2_300_000, *, count: int = 21, step: int = 50_000, **kwargs: Any
    ) -> EventSeed:
        """The event of the Monday-Sunday week containing ``day`` (its ticker names the Sunday).

        ``count`` strikes ``step`` apart around ``center`` (rounded to the step); mids 0.50 at ``center``.
        """
        middle = round(center / step) * step
        low = middle - (count // 2) * step
        strikes = tuple(low + i * step for i in range(count) if low + i * step > 0)
        return cls(event_ticker=event_ticker_for_week(day), strikes=strikes, center=center, **kwargs)

    @classmethod
    def from_crowd(
        cls, day: date, now: float, truth: Mapping[date, int] | None = None, *, seed: int = 0, **kwargs: Any
    ) -> EventSeed:
        """The event of the week containing ``day``, its ladder and book where the crowd stands at ``now``
        (its last hour, if ``now`` is past the close: the seeded week is open by definition).

        The crowd forecasts the week from ``truth`` (default: the shipped TSA pages; past their end, from
        the same days a year earlier), so a demo faces a market that is about as good as a forecaster.
        """
        from tsa_bot.kalshi_sim.crowd import WeekCrowd
        from tsa_bot.kalshi_sim.history import shipped_truth, week_view

        monday = day - timedelta(days=day.weekday())
        ticker = event_ticker_for_week(day)
        truth = truth or shipped_truth()
        # The week's days past the data are the crowd's stand-in for the truth; the year before is public.
        seen = {**truth, **week_view(monday, truth)}
        crowd = WeekCrowd(monday, seen, seed=seed, key=ticker, observed=truth.keys())
        strikes = crowd.strikes()
        hour = min(max(int(np.searchsorted(crowd.hours, now, side="right")) - 1, 0), len(crowd.hours) - 1)
        books, mids = crowd_books(crowd.tapes(strikes), hour)
        kwargs.setdefault("levels", 2)
        kwargs.setdefault("depth", Decimal(25))
        center = round(float(crowd.mean[hour]))
        return cls(event_ticker=ticker, strikes=strikes, mids=mids, books=books, center=center, **kwargs)

    def best(self, strike: int) -> tuple[Decimal | None, Decimal | None]:
        """The best YES bid and ask to rest at ``strike`` (None: nothing on that side)."""
        if self.books is not None and strike in self.books:
            return self.books[strike]
        mid = self.mid(strike)
        return mid - self.half_spread, mid + self.half_spread

    def mid(self, strike: int) -> Decimal:
        if self.mids is not None and strike in self.mids:
            return Decimal(self.mids[strike])
        p = 1 / (1 + math.exp((strike - self.center) / self.scale))
        return Decimal(str(round(min(max(p, 0.03), 0.97), 2)))


def crowd_books(tapes: Mapping[int, Any], hour: int) -> tuple[dict, dict[int, Decimal]]:
    """Each strike's best YES bid and ask on the crowd's tape at ``hour`` (None where the side is empty),
    and its mid (an empty side counting as 0 or 1, as Kalshi reports it)."""
    from tsa_bot.kalshi_sim.crowd import NO_ASK, NO_BID

    books, mids = {}, {}
    for strike, tape in tapes.items():
        bid, ask = int(tape.bid[hour]), int(tape.ask[hour])
        books[strike] = (
            None if bid == NO_BID else Decimal(bid) / 100,
            None if ask == NO_ASK else Decimal(ask) / 100,
        )
        mids[strike] = Decimal((bid + ask) // 2) / 100
    return books, mids
