"""The exchange's rules, independent of HTTP: listing, auth, matching, fees, settlement, hosted history.

Its records are in ``state.py``, what it shows of a market in ``market_data.py``, the checks on an order
request in ``orders.py``, what happens to an order once it rests (amend, decrease, admin crowd trades) in
``resting.py``, expiry and the crowd's tape filling resting orders as the clock moves in ``crowd_fills.py``.

Simplifications, chosen to err on the strict side:
- the balance check charges the full collateral of an order (price for a bid, ``1 − price`` for an
  ask) plus its taker fee, even when the order would close an existing position;
- resting orders reserve their collateral, and ``balance`` reports cash minus reservations;
- seeded liquidity belongs to a house account with unlimited funds.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tsa_bot.core.market import (
    NEW_YORK,
    ONE,
    ZERO,
    BookSide,
    event_sunday,
    event_ticker_for_week,
    market_result,
    market_ticker,
)
from tsa_bot.kalshi.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tsa_bot.kalshi.models import count_str, on_tick_grid, price_str
from tsa_bot.kalshi_sim.candles import MAX_CANDLES, PERIODS, candle_ends, candles
from tsa_bot.kalshi_sim.crowd import WeekCrowd, settlement_time
from tsa_bot.kalshi_sim.crowd_fills import CrowdFills
from tsa_bot.kalshi_sim.errors import ApiError, std_error, validation_error
from tsa_bot.kalshi_sim.faults import Fault, FaultBook
from tsa_bot.kalshi_sim.history import HistorySeed
from tsa_bot.kalshi_sim.market_data import market_json, orderbook_json
from tsa_bot.kalshi_sim.orders import validate_order
from tsa_bot.kalshi_sim.resting import RestingOrders
from tsa_bot.kalshi_sim.seed import EventSeed, crowd_books
from tsa_bot.kalshi_sim.state import HOUSE, Account, SimMarket, SimOrder, SimPosition, TokenBucket, iso_time
from tsa_bot.pricing.fees import FeeSchedule, trade_fee

API_PREFIX = "/trade-api/v2"
MAX_SKEW_MS = 5_000

__all__ = ["ApiError", "EventSeed", "Exchange"]


class Exchange(CrowdFills, RestingOrders):
    """The exchange's state and rules, independent of HTTP. Every method holds the one lock."""

    def __init__(
        self,
        seed: EventSeed | None = None,
        *,
        read_rate: float = 20.0,
        write_rate: float = 10.0,
        clock: Callable[[], float] = time.time,
        history: HistorySeed | None = None,
        cutoff: float | None = None,
    ):
        """``seed`` lists one event (by default KXTSAW-26FEB15, unless only ``history`` is given);
        ``history`` hosts a run of past weeks; ``cutoff`` fixes the historical cutoff (Unix seconds)."""
        self.lock = threading.RLock()
        self.cutoff = cutoff  # the historical cutoff; None: see historical_cutoff
        self.clock = clock
        self.read_rate = read_rate
        self.write_rate = write_rate
        self.accounts: dict[str, Account] = {}
        self.markets: dict[str, SimMarket] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.series: dict[str, dict[str, Any]] = {}
        self.exchange_active = True
        self.trading_active = True
        self.faults = FaultBook()
        # (method, path) of every request served, in order: what tests assert was (not) sent.
        self.requests: collections.deque[tuple[str, str]] = collections.deque(maxlen=100_000)
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        self._seq = itertools.count(1)
        self._expiring: list[SimOrder] = []
        self._tape_cursor: dict[str, int] = {}  # per market: the next crowd tape trade to play
        if seed is not None or history is None:
            self.seed_event(seed or EventSeed())
        if history is not None:
            self.host_history(history)

    # -- setup --

    def seed_event(self, seed: EventSeed) -> None:
        with self.lock:
            schedule = FeeSchedule(seed.fee_type, Decimal(seed.fee_multiplier))
            self.series[seed.series_ticker] = {
                "ticker": seed.series_ticker,
                "frequency": "weekly",
                "title": "TSA check-ins weekly average",
                "category": "Transportation",
                "settlement_sources": [
                    {"name": "TSA", "url": "https://www.tsa.gov/travel/passenger-volumes"}
                ],
                "contract_terms_url": "https://kalshi.com/docs/tsaw.pdf",
                "fee_type": schedule.fee_type,
                "fee_multiplier": float(schedule.fee_multiplier),
                "_schedule": schedule,
            }
            sunday = event_sunday(seed.event_ticker)
            monday = sunday - timedelta(days=6)
            open_ts = datetime(monday.year, monday.month, monday.day, tzinfo=NEW_YORK).timestamp()
            close_ts = datetime(sunday.year, sunday.month, sunday.day, 23, 59, tzinfo=NEW_YORK).timestamp()
            self.events[seed.event_ticker] = {
                "event_ticker": seed.event_ticker,
                "series_ticker": seed.series_ticker,
                "title": f"TSA check-ins, week ending {sunday:%b %d, %Y}",
                "sub_title": f"Week ending {sunday:%b %d, %Y}",
                "collateral_return_type": "",
                "mutually_exclusive": False,
                "available_on_brokers": False,
                "product_metadata": {},
                "strike_date": iso_time(close_ts),
                "tickers": [],
                "_close_ts": close_ts,
                "_crowd": None,
            }
            for strike in seed.strikes:
                ticker = market_ticker(seed.event_ticker, strike)
                market = SimMarket(
                    ticker, seed.event_ticker, strike, seed.status, seed.price_ranges, open_ts, close_ts
                )
                market.created = min(open_ts, self.clock())
                self.markets[ticker] = market
                self.events[seed.event_ticker]["tickers"].append(ticker)
                self._seed_liquidity(market, seed)

    def _seed_liquidity(self, market: SimMarket, seed: EventSeed) -> None:
        best_bid, best_ask = seed.best(market.floor_strike)
        tick = Decimal("0.01")
        for i in range(seed.levels):
            if best_bid is not None and Decimal("0.01") <= (bid := best_bid - i * tick) <= Decimal("0.99"):
                self._rest(self._new_order(HOUSE, "", market.ticker, BookSide.BID, bid, seed.depth), market)
            if best_ask is not None and Decimal("0.01") <= (ask := best_ask + i * tick) <= Decimal("0.99"):
                self._rest(self._new_order(HOUSE, "", market.ticker, BookSide.ASK, ask, seed.depth), market)

    def record(self, method: str, path: str) -> None:
        with self.lock:
            self.requests.append((method, path))

    def register_key(self, key_id: str, public_key: rsa.RSAPublicKey | bytes, balance: Decimal) -> None:
        if isinstance(public_key, bytes):
            loaded = serialization.load_pem_public_key(public_key)
            if not isinstance(loaded, rsa.RSAPublicKey):
                raise ValueError("an RSA public key is needed")
            public_key = loaded
        with self.lock:
            self.accounts[key_id] = Account(key_id, public_key, Decimal(balance))

    def inject(self, method: str, path_prefix: str, action: str, times: int = 1) -> None:
        """Script the next ``times`` matching requests to fail with ``action``."""
        if action not in ("429", "500", "500_after", "drop_after"):
            raise ValueError(f"unknown fault {action}")
        self.faults.add(Fault(method.upper(), path_prefix, action, times))

    def take_fault(self, method: str, path: str) -> tuple[float, str | None]:
        """``(seconds of latency, failure or None)`` scripted for a request to ``path`` (the full path)."""
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return self.faults.take(method, path[len(API_PREFIX) :])
        return 0.0, None

    def rate_ok(self, identity: str, kind: str) -> bool:
        with self.lock:
            bucket = self.buckets.get((identity, kind))
            if bucket is None:
                rate = self.write_rate if kind == "write" else self.read_rate
                bucket = self.buckets[(identity, kind)] = TokenBucket(rate, self.clock)
            return bucket.take()

    # -- auth --

    def authenticate(self, headers: Mapping[str, str], method: str, path: str) -> Account:
        key_id = headers.get(KEY_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            raise std_error(401, "signature_is_missing_from_headers")
        if not key_id or not timestamp:
            raise std_error(401, "authentication_error", "authentication_error", "missing headers")
        try:
            skew = abs(int(timestamp) - self.clock() * 1000)
        except ValueError:
            raise std_error(401, "header_timestamp_expired") from None
        if skew > MAX_SKEW_MS:
            raise std_error(401, "header_timestamp_expired")
        with self.lock:
            account = self.accounts.get(key_id)
        if account is None or account.public_key is None:
            raise std_error(401, "authentication_error", "authentication_error", "NOT_FOUND")
        if not verify(account.public_key, signature, timestamp, method, path):
            raise std_error(
                401, "authentication_error", "authentication_error", "INCORRECT_API_KEY_SIGNATURE"
            )
        return account

    # -- market data --

    def market_json(self, m: SimMarket) -> dict[str, Any]:
        return market_json(m, self.accounts.values(), self.clock())

    def event_json(self, ticker: str, *, nested: bool) -> dict[str, Any]:
        """An event as ``GET /events`` shows it; ``nested`` adds its markets not yet archived."""
        event = self.events[ticker]
        public = {k: v for k, v in event.items() if k != "tickers" and not k.startswith("_")}
        if nested:
            public["markets"] = self.event_markets(ticker)
        return public

    def event_markets(self, ticker: str) -> list[dict[str, Any]]:
        """The event's markets, less those settled before the historical cutoff (as Kalshi does)."""
        cutoff = self.historical_cutoff()
        markets = (self.markets[t] for t in self.events[ticker]["tickers"])
        return [self.market_json(m) for m in markets if not self.archived(m, cutoff)]

    # -- history --

    def host_history(self, history: HistorySeed) -> list[str]:
        """List the past weeks ``history`` names with the crowd's ladders, quotes and trades.

        A week is settled (with its result) once its settlement time has passed on the exchange's clock,
        closed between its close and that, trading with the crowd's book while open, unopened before.
        Returns the event tickers.
        """
        truth = history.daily()
        tickers = []
        now = self.clock()
        for monday in history.mondays():
            event_ticker = event_ticker_for_week(monday)
            try:
                crowd = WeekCrowd(monday, truth, seed=history.seed, key=event_ticker, params=history.params)
            except KeyError as exc:
                raise ValueError(f"cannot host {event_ticker}: {exc.args[0]}") from None
            strikes = crowd.strikes(history.strikes, history.step)
            tapes = crowd.tapes(strikes)
            settle_ts = settlement_time(monday)
            status = (
                "finalized"
                if now >= settle_ts
                else "closed"
                if now >= crowd.close_ts
                else "active"
                if now >= crowd.open_ts
                else "initialized"
            )
            hour = min(max(int(np.searchsorted(crowd.hours, now, side="right")) - 1, 0), len(crowd.hours) - 1)
            books, mids = crowd_books(tapes, hour)
            levels = 2 if status == "active" else 0  # nothing rests before the open or after the close
            self.seed_event(
                EventSeed(
                    event_ticker=event_ticker,
                    strikes=strikes,
                    mids=mids,
                    books=books,
                    levels=levels,
                    status=status,
                )
            )
            with self.lock:
                self.events[event_ticker]["_crowd"] = crowd
                for strike in strikes:
                    market = self.markets[market_ticker(event_ticker, strike)]
                    market.tape = tapes[strike]
                    if status == "finalized":
                        market.result = market_result(crowd.value, strike)
                        market.expiration_value = str(crowd.value.quantize(Decimal("0.01")))
                        market.settled_ts = settle_ts
            tickers.append(event_ticker)
        return tickers

    def historical_cutoff(self) -> float:
        """Markets settled before this are archived: only ``/historical/...`` serves them.

        ``cutoff`` if set; otherwise 90 days before the latest settlement the exchange knows (or now).
        """
        if self.cutoff is not None:
            return self.cutoff
        settled = [m.settled_ts for m in self.markets.values() if m.settled_ts is not None]
        newest = min(self.clock(), max(settled)) if settled else self.clock()
        return newest - 90 * 86400

    @staticmethod
    def archived(market: SimMarket, cutoff: float) -> bool:
        return market.settled_ts is not None and market.settled_ts < cutoff

    def candlesticks(
        self, market: SimMarket, start_ts: int, end_ts: int, period_interval: int, *, historical: bool
    ) -> list[dict[str, Any]]:
        """The market's candles ending in ``[start_ts, end_ts]`` that have ended by now."""
        crowd = self.events[market.event_ticker]["_crowd"]
        if market.tape is None or crowd is None:
            return []
        period_s = PERIODS[period_interval]
        ends = candle_ends(start_ts, end_ts, period_s, market.open_time, market.close_time, self.clock())
        if len(ends) > MAX_CANDLES:
            raise validation_error(
                f"{len(ends)} candlesticks requested; at most {MAX_CANDLES}: narrow start_ts..end_ts"
            )
        return candles(
            market.tape, crowd.hours, ends, period_s, historical=historical, close_ts=market.close_time
        )

    def orderbook_json(self, m: SimMarket, depth: int | None) -> dict[str, Any]:
        self.expire_due()
        return orderbook_json(m, depth)

    # -- orders --

    def _new_order(
        self, owner: str, coid: str, ticker: str, book_side: str, price: Decimal, count: Decimal
    ) -> SimOrder:
        return SimOrder(
            order_id=str(uuid.uuid4()),
            client_order_id=coid,
            owner=owner,
            ticker=ticker,
            book_side=book_side,
            price=price,
            initial=count,
            remaining=count,
            seq=next(self._seq),
            created=self.clock(),
        )

    def _rest(self, order: SimOrder, market: SimMarket) -> None:
        market.orders_on(order.book_side).append(order)
        account = self.accounts.get(order.owner)
        if account is not None:
            account.reserved += order.remaining * order.unit_collateral()

    def _unrest(self, order: SimOrder, market: SimMarket, count: Decimal) -> None:
        """Release ``count`` of a resting order's reservation, removing it from the book when done."""
        account = self.accounts.get(order.owner)
        if account is not None:
            account.reserved -= count * order.unit_collateral()
        if order.remaining == 0 or order.status != "resting":
            market.orders_on(order.book_side).remove(order)

    def create_order(self, account: Account, body: Any) -> dict[str, Any]:
        req = validate_order(body)
        with self.lock:
            self.expire_due()
            market = self.markets.get(req["ticker"])
            if market is None:
                raise std_error(404, "not_found", "market not found", req["ticker"])
            if req["client_order_id"] in account.client_order_ids:
                raise std_error(409, "order_already_exists", "order already exists", req["client_order_id"])
            if market.status not in ("active", "open") or not self.trading_active:
                raise std_error(400, "market_closed", "market is not open for trading", market.status)
            price, count, book_side = req["price"], req["count"], req["book_side"]
            if not on_tick_grid(price, market.price_ranges):
                raise std_error(
                    400, "invalid_price", "invalid price", f"{price_str(price)} is off the tick grid"
                )
            schedule = self._schedule(market)
            unit = price if book_side == BookSide.BID else ONE - price
            needed = count * unit + trade_fee(schedule, count, price)
            if needed > account.cash - account.reserved:
                raise std_error(
                    400, "insufficient_balance", "insufficient balance", f"needs {price_str(needed)}"
                )
            crosses = self._crossing(market, book_side, price, exclude=None)
            if req["post_only"] and crosses:
                raise std_error(400, "invalid_order", "invalid order", "post only cross")
            tif = req["time_in_force"]
            expiration = req["expiration_time"]
            if expiration is not None and expiration <= self.clock():
                raise validation_error("expiration_time must be in the future")
            if tif == "fill_or_kill":
                available = sum(
                    (o.remaining for o in self._crossing(market, book_side, price, account.key_id)), ZERO
                )
                if available < count:
                    raise std_error(400, "invalid_order", "invalid order", "fill or kill could not be filled")
            account.client_order_ids.add(req["client_order_id"])
            order = self._new_order(
                account.key_id, req["client_order_id"], market.ticker, book_side, price, count
            )
            order.post_only, order.expiration_time = req["post_only"], expiration
            account.orders.append(order)
            fills = self._match(order, market, schedule)
            if order.remaining > 0:
                if tif == "good_till_canceled" and order.status == "resting":
                    self._rest(order, market)
                    if expiration is not None:
                        self._expiring.append(order)
                else:
                    order.status = "canceled"
            else:
                order.status = "executed"
            filled_value = sum(
                (Decimal(f["count_fp"]) * Decimal(f["yes_price_dollars"]) for f in fills), ZERO
            )
            return {
                "order_id": order.order_id,
                "client_order_id": order.client_order_id,
                "fill_count": count_str(order.filled),
                "remaining_count": count_str(order.remaining if order.status == "resting" else ZERO),
                "average_fill_price": price_str(filled_value / order.filled) if order.filled else None,
                "average_fee_paid": price_str(order.taker_fees / order.filled) if order.filled else None,
                "ts_ms": int(self.clock() * 1000),
            }

    def _schedule(self, market: SimMarket) -> FeeSchedule:
        series = self.events[market.event_ticker]["series_ticker"]
        return self.series[series]["_schedule"]

    def _crossing(
        self, market: SimMarket, book_side: str, price: Decimal, exclude: str | None
    ) -> list[SimOrder]:
        if book_side == BookSide.BID:
            return [o for o in market.asks if o.price <= price and o.owner != exclude]
        return [o for o in market.bids if o.price >= price and o.owner != exclude]

    def _match(self, taker: SimOrder, market: SimMarket, schedule: FeeSchedule) -> list[dict[str, Any]]:
        fills: list[dict[str, Any]] = []
        opposite = BookSide.ASK if taker.book_side == BookSide.BID else BookSide.BID
        while taker.remaining > 0:
            maker = market.best(opposite)
            if maker is None:
                break
            if (taker.book_side == BookSide.BID and maker.price > taker.price) or (
                taker.book_side == BookSide.ASK and maker.price < taker.price
            ):
                break
            if maker.owner == taker.owner:  # self-trade prevention: taker_at_cross
                taker.status = "canceled"
                break
            qty = min(taker.remaining, maker.remaining)
            price = maker.price
            taker_fee = trade_fee(schedule, qty, price)
            maker_fee = trade_fee(schedule, qty, price, maker=True)
            for order, fee, is_taker in ((taker, taker_fee, True), (maker, maker_fee, False)):
                order.remaining -= qty
                order.filled += qty
                if is_taker:
                    order.taker_fees += fee
                else:
                    order.maker_fees += fee
                fill = self._apply_fill(order, qty, price, fee, is_taker)
                if is_taker and fill is not None:
                    fills.append(fill)
            if maker.remaining == 0:
                maker.status = "executed"
            self._unrest(maker, market, qty)
            market.last_price = price
            market.volume += qty
        return fills

    def _apply_fill(
        self,
        order: SimOrder,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        is_taker: bool,
        at: float | None = None,
    ) -> dict[str, Any] | None:
        """Book a fill to the order's owner; ``at``: the fill's time if not now (a crowd tape trade's)."""
        account = self.accounts.get(order.owner)
        if account is None:
            return None
        pos = account.positions.setdefault(order.ticker, SimPosition())
        if order.book_side == BookSide.BID:  # buying YES closes NO first
            close = min(qty, max(-pos.position, ZERO))
            unit_close, unit_open = ONE - price, price
        else:  # selling YES closes YES first, then opens NO
            close = min(qty, max(pos.position, ZERO))
            unit_close, unit_open = price, ONE - price
        if close:
            basis = pos.cost * close / abs(pos.position)
            pos.cost -= basis
            pos.realized += close * unit_close - basis
            account.cash += close * unit_close
        opened = qty - close
        pos.cost += opened * unit_open
        account.cash -= opened * unit_open + fee
        pos.fees += fee
        pos.position += qty if order.book_side == BookSide.BID else -qty
        fill = {
            "fill_id": str(uuid.uuid4()),
            "order_id": order.order_id,
            "ticker": order.ticker,
            "side": order.book_side,
            "count_fp": count_str(qty),
            "yes_price_dollars": price_str(price),
            "no_price_dollars": price_str(ONE - price),
            "is_taker": is_taker,
            "fee_cost": price_str(fee),
            "created_time": iso_time(self.clock() if at is None else at),
        }
        account.fills.append(fill)
        return fill

    def cancel_order(self, account: Account, order_id: str) -> dict[str, Any]:
        with self.lock:
            self.expire_due()
            order = self._resting_order(account, order_id)
            reduced = order.remaining
            self._reduce(order, self.markets[order.ticker], reduced)
            return {
                "order_id": order.order_id,
                "client_order_id": order.client_order_id,
                "reduced_by": count_str(reduced),
                "ts_ms": int(self.clock() * 1000),
            }

    # -- settlement --

    def settle(self, event_ticker: str, value: int | Decimal) -> list[dict[str, Any]]:
        """Determine every market of the event from the week's mean and pay out positions."""
        with self.lock:
            event = self.events.get(event_ticker)
            if event is None:
                raise std_error(404, "not_found", "event not found", event_ticker)
            value = Decimal(value)
            out = []
            for ticker in event["tickers"]:
                market = self.markets[ticker]
                if market.status == "finalized":
                    continue
                for order in [*market.bids, *market.asks]:
                    order.status = "canceled"
                    self._unrest(order, market, order.remaining)
                    order.remaining = ZERO
                market.result = market_result(value, market.floor_strike)
                market.status = "finalized"
                market.expiration_value = str(value)
                market.settled_ts = self.clock()
                for account in self.accounts.values():
                    pos = account.positions.pop(ticker, None)
                    if pos is None:
                        continue
                    yes, no = max(pos.position, ZERO), max(-pos.position, ZERO)
                    revenue = yes if market.result == "yes" else no
                    account.cash += revenue
                    pos.realized += revenue - pos.cost
                    account.settled[ticker] = pos
                    record = {
                        "ticker": ticker,
                        "event_ticker": event_ticker,
                        "market_result": market.result,
                        "yes_count_fp": count_str(yes),
                        "no_count_fp": count_str(no),
                        "revenue": int(revenue * 100),
                        "fee_cost": price_str(pos.fees),
                        "settled_time": iso_time(self.clock()),
                    }
                    account.settlements.append(record)
                    out.append({**record, "account": account.key_id})
            return out
