"""The exchange's clock moving on: the crowd's tape fills resting orders, and orders expire, in time order.

The maker rule (the replay's, ``tsa_bot.replay.execution``, trade by trade instead of candle by candle):
on a market with a crowd tape, every tape trade with ``trade_ts`` in ``(order created, now]`` (exchange
clock) whose price is *strictly through* a resting non-house order's price (below a YES bid's; above a YES
ask's) would have met that order first, since the order rested at a better price for the other side. It
fills ``min(order remaining, trade size)`` at the order's own price: a maker fill for the order's owner
(``is_taker`` false, the series' maker fee, zero on ``quadratic``) with ``created_time`` the trade's time.

- A trade's size is shared among the orders it goes through, best price first, then time priority
  (``seq``); each tape trade is used at most once across orders, and never twice across requests: a
  per-market cursor (``_tape_cursor``: the index of the next tape trade not yet played) only moves on.
- Expiries and trades are one timeline, played in order (an expiry at the same second as a trade first):
  an order that expired before a trade cannot be filled by it, though nobody asked in between.
- House orders never fill this way (the tape *is* the house's crowd trading); the tape's trades already
  count in the market's volume and last price, so these fills do not add to them.

It runs lazily, as ``expire_due``, before anything reads or trades a book or lists orders, fills,
positions or the balance (the HTTP gate runs it before every request).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from tsa_bot.kalshi_sim.state import HOUSE, SimMarket, SimOrder
from tsa_bot.pricing.fees import FeeSchedule

_EXPIRY, _TRADE = 0, 1  # at the same second, an expiry is played before a trade


class CrowdFills:
    """Expiry and the crowd's tape fills, played in time order up to the exchange's clock (a part of
    ``Exchange``)."""

    lock: threading.RLock
    clock: Callable[[], float]
    markets: dict[str, SimMarket]
    _expiring: list[SimOrder]
    _tape_cursor: dict[str, int]

    # Provided by Exchange / RestingOrders.
    _reduce: Callable[[SimOrder, SimMarket, Decimal], None]
    _schedule: Callable[[SimMarket], FeeSchedule]
    _fill_resting: Callable[..., dict[str, Any]]

    def expire_due(self) -> list[SimOrder]:
        """Bring the books up to the exchange's clock: play, in time order, every expiry that has come
        (the order is cancelled) and every crowd tape trade that has printed (filling resting orders it
        went through, see the module). Returns the orders cancelled by expiry."""
        with self.lock:
            now = self.clock()
            counter = itertools.count()
            timeline: list[tuple[float, int, int, Any]] = []
            for order in self._expiring:
                if order.expiration_time is not None and order.expiration_time <= now:
                    timeline.append((float(order.expiration_time), _EXPIRY, next(counter), order))
            for market in self.markets.values():
                for index in self._unplayed(market, now):
                    ts = float(market.tape.trade_ts[index])  # type: ignore[union-attr]
                    timeline.append((ts, _TRADE, next(counter), (market, index)))
            timeline.sort(key=lambda event: event[:3])
            expired: list[SimOrder] = []
            for ts, kind, _, what in timeline:
                if kind == _EXPIRY:
                    self._expiring.remove(what)
                    if what.status == "resting":
                        self._reduce(what, self.markets[what.ticker], what.remaining)
                        expired.append(what)
                else:
                    market, index = what
                    self._play_trade(market, index, ts)
                    self._tape_cursor[market.ticker] = index + 1
            return expired

    def _unplayed(self, market: SimMarket, now: float) -> range:
        """The indices of the market's tape trades not yet played that could fill one of its resting
        non-house orders by ``now``: after the cursor, after the oldest such order's creation."""
        tape = market.tape
        if tape is None or market.status not in ("active", "open"):
            return range(0)
        created = [o.created for o in (*market.bids, *market.asks) if o.owner != HOUSE]
        if not created:
            return range(0)
        start = max(
            self._tape_cursor.get(market.ticker, 0),
            int(np.searchsorted(tape.trade_ts, min(created), side="right")),
        )
        return range(start, int(np.searchsorted(tape.trade_ts, now, side="right")))

    def _play_trade(self, market: SimMarket, index: int, ts: float) -> None:
        """One tape trade: the resting non-house orders it went through, best first, share its size."""
        tape = market.tape
        assert tape is not None
        price = Decimal(int(tape.trade_price[index])) / 100
        left = Decimal(int(tape.trade_size[index]))
        schedule = self._schedule(market)
        while left > 0:
            maker = _first_through(market, price, ts)
            if maker is None:
                return
            qty = min(maker.remaining, left)
            self._fill_resting(maker, market, schedule, qty, at=ts)
            left -= qty


def _first_through(market: SimMarket, price: Decimal, ts: float) -> SimOrder | None:
    """The order a trade at ``price`` at ``ts`` meets first: the best non-house order resting since before
    ``ts`` strictly through ``price`` (a YES bid above it, else a YES ask below it), earliest at a price."""
    bids = [o for o in market.bids if o.owner != HOUSE and o.created < ts and o.price > price]
    if bids:
        return min(bids, key=lambda o: (-o.price, o.seq))
    asks = [o for o in market.asks if o.owner != HOUSE and o.created < ts and o.price < price]
    return min(asks, key=lambda o: (o.price, o.seq), default=None)
