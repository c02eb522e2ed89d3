"""The exchange's state and rules, independent of HTTP: accounts, books, matching, fees, settlement.

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tsa_bot.core.market import NEW_YORK, ONE, ZERO, event_sunday, event_ticker_for_week
from tsa_bot.kalshi.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tsa_bot.kalshi.models import PriceRange, count_str, on_tick_grid, price_str
from tsa_bot.kalshi_sim.candles import MAX_CANDLES, PERIODS, candle_ends, candles
from tsa_bot.kalshi_sim.crowd import MarketTape, WeekCrowd, settlement_time
from tsa_bot.kalshi_sim.errors import ApiError, decode_error, std_error, validation_error
from tsa_bot.kalshi_sim.faults import Fault, FaultBook
from tsa_bot.kalshi_sim.history import HistorySeed
from tsa_bot.kalshi_sim.seed import EventSeed, market_ticker
from tsa_bot.pricing.fees import FeeSchedule, trade_fee

API_PREFIX = "/trade-api/v2"
HOUSE = "__house__"
MAX_SKEW_MS = 5_000

__all__ = ["ApiError", "EventSeed", "Exchange"]


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class SimOrder:
    order_id: str
    client_order_id: str
    owner: str
    ticker: str
    side: str  # bid | ask on the YES book
    price: Decimal
    initial: Decimal
    seq: int
    created: float
    remaining: Decimal = ZERO
    filled: Decimal = ZERO
    status: str = "resting"
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO

    def unit_collateral(self) -> Decimal:
        return self.price if self.side == "bid" else ONE - self.price

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "ticker": self.ticker,
            "status": self.status,
            "side": self.side,
            "yes_price_dollars": price_str(self.price),
            "no_price_dollars": price_str(ONE - self.price),
            "initial_count_fp": count_str(self.initial),
            "fill_count_fp": count_str(self.filled),
            "remaining_count_fp": count_str(self.remaining),
            "taker_fees_dollars": price_str(self.taker_fees),
            "maker_fees_dollars": price_str(self.maker_fees),
            "created_time": iso_time(self.created),
        }


@dataclass
class SimPosition:
    position: Decimal = ZERO  # + YES, - NO
    cost: Decimal = ZERO  # what the open contracts cost
    fees: Decimal = ZERO
    realized: Decimal = ZERO

    def to_json(self, ticker: str) -> dict[str, Any]:
        return {
            "ticker": ticker,
            "position_fp": count_str(self.position),
            "market_exposure_dollars": price_str(self.cost),
            "realized_pnl_dollars": price_str(self.realized),
            "fees_paid_dollars": price_str(self.fees),
        }


@dataclass
class Account:
    key_id: str
    public_key: rsa.RSAPublicKey | None
    cash: Decimal
    reserved: Decimal = ZERO
    positions: dict[str, SimPosition] = field(default_factory=dict)
    settled: dict[str, SimPosition] = field(default_factory=dict)
    orders: list[SimOrder] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[dict[str, Any]] = field(default_factory=list)
    client_order_ids: set[str] = field(default_factory=set)


@dataclass
class SimMarket:
    ticker: str
    event_ticker: str
    floor_strike: int
    status: str
    price_ranges: tuple[PriceRange, ...]
    open_time: float
    close_time: float
    bids: list[SimOrder] = field(default_factory=list)  # YES bids
    asks: list[SimOrder] = field(default_factory=list)  # YES asks (shown as NO bids)
    last_price: Decimal | None = None
    volume: Decimal = ZERO
    result: str = ""
    expiration_value: str = ""
    settled_ts: float | None = None
    created: float = 0.0
    tape: MarketTape | None = None  # the crowd's quotes and trades, for candlesticks

    def best(self, side: str) -> SimOrder | None:
        book = self.bids if side == "bid" else self.asks
        if not book:
            return None
        if side == "bid":
            return min(book, key=lambda o: (-o.price, o.seq))
        return min(book, key=lambda o: (o.price, o.seq))


class TokenBucket:
    def __init__(self, rate: float, clock: Callable[[], float]):
        self.rate = rate
        self.tokens = rate
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Exchange:
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
        mid = seed.mid(market.floor_strike)
        tick = Decimal("0.01")
        for i in range(seed.levels):
            bid = mid - seed.half_spread - i * tick
            ask = mid + seed.half_spread + i * tick
            if Decimal("0.01") <= bid <= Decimal("0.99"):
                self._rest(self._new_order(HOUSE, "", market.ticker, "bid", bid, seed.depth), market)
            if Decimal("0.01") <= ask <= Decimal("0.99"):
                self._rest(self._new_order(HOUSE, "", market.ticker, "ask", ask, seed.depth), market)

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
        bid, ask = m.best("bid"), m.best("ask")
        open_interest = sum(
            (max(a.positions.get(m.ticker, SimPosition()).position, ZERO) for a in self.accounts.values()),
            ZERO,
        )
        volume, last_price = m.volume, m.last_price
        if m.tape is not None and len(m.tape.trade_ts):
            volume += Decimal(int(m.tape.trade_size.sum()))
            open_interest += Decimal(int(m.tape.open_interest[-1]))
            if last_price is None:
                last_price = Decimal(int(m.tape.trade_price[-1])) / 100
        strike_m = Decimal(m.floor_strike) / 1_000_000
        settled = {}
        if m.settled_ts is not None:
            settled = {
                "settlement_ts": iso_time(m.settled_ts),
                "settlement_value_dollars": "1.0000" if m.result == "yes" else "0.0000",
            }
        return {
            "ticker": m.ticker,
            "event_ticker": m.event_ticker,
            "market_type": "binary",
            "title": f"TSA check-ins above {strike_m:.2f}M this week?",
            "yes_sub_title": f"Above {strike_m:.2f}M",
            "no_sub_title": f"{strike_m:.2f}M or below",
            "created_time": iso_time(m.created),
            "updated_time": iso_time(m.settled_ts or m.created),
            "status": m.status,
            "open_time": iso_time(m.open_time),
            "close_time": iso_time(m.close_time),
            "latest_expiration_time": iso_time(m.close_time + 8 * 86400),
            "settlement_timer_seconds": 0,
            "notional_value_dollars": "1.0000",
            "yes_bid_dollars": price_str(bid.price) if bid else "0.0000",
            "yes_ask_dollars": price_str(ask.price) if ask else "1.0000",
            "no_bid_dollars": price_str(ONE - ask.price) if ask else "0.0000",
            "no_ask_dollars": price_str(ONE - bid.price) if bid else "1.0000",
            "yes_bid_size_fp": count_str(sum((o.remaining for o in m.bids if o.price == bid.price), ZERO))
            if bid
            else "0.00",
            "yes_ask_size_fp": count_str(sum((o.remaining for o in m.asks if o.price == ask.price), ZERO))
            if ask
            else "0.00",
            "last_price_dollars": price_str(last_price) if last_price is not None else "0.0000",
            "previous_yes_bid_dollars": "0.0000",
            "previous_yes_ask_dollars": "0.0000",
            "previous_price_dollars": "0.0000",
            "volume_fp": count_str(volume),
            "volume_24h_fp": "0.00",
            "liquidity_dollars": "0.0000",
            "open_interest_fp": count_str(open_interest),
            "strike_type": "greater",
            "floor_strike": m.floor_strike,
            "result": m.result,
            "can_close_early": False,
            "fractional_trading_enabled": False,
            "expiration_value": m.expiration_value,
            **settled,
            "rules_primary": (
                f"If the average of daily TSA checkpoint numbers for the week is above {m.floor_strike:,}, "
                "the market resolves to Yes."
            ),
            "rules_secondary": "Numbers as first published on tsa.gov/travel/passenger-volumes.",
            "price_level_structure": "linear_cent",
            "price_ranges": [
                {"start": price_str(r.start), "end": price_str(r.end), "step": price_str(r.step)}
                for r in m.price_ranges
            ],
        }

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
            hour = max(int(np.searchsorted(crowd.hours, now, side="right")) - 1, 0)
            mids = {k: Decimal(int(t.bid[hour] + t.ask[hour]) // 2) / 100 for k, t in tapes.items()}
            levels = 2 if status == "active" else 0
            self.seed_event(
                EventSeed(event_ticker=event_ticker, strikes=strikes, mids=mids, levels=levels, status=status)
            )
            with self.lock:
                self.events[event_ticker]["_crowd"] = crowd
                for strike in strikes:
                    market = self.markets[market_ticker(event_ticker, strike)]
                    market.tape = tapes[strike]
                    if status == "finalized":
                        market.result = "yes" if crowd.value > strike else "no"
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
        return candles(market.tape, crowd.hours, ends, period_s, historical=historical)

    def orderbook_json(self, m: SimMarket, depth: int | None) -> dict[str, Any]:
        def levels(orders: list[SimOrder], flip: bool) -> list[list[str]]:
            agg: dict[Decimal, Decimal] = {}
            for o in orders:
                price = ONE - o.price if flip else o.price
                agg[price] = agg.get(price, ZERO) + o.remaining
            best_first = sorted(agg.items(), key=lambda kv: -kv[0])[: depth or None]
            # Worst to best, as recorded data has shown: clients must sort.
            return [[price_str(p), count_str(c)] for p, c in reversed(best_first)]

        return {"orderbook_fp": {"yes_dollars": levels(m.bids, False), "no_dollars": levels(m.asks, True)}}

    # -- orders --

    def _new_order(
        self, owner: str, coid: str, ticker: str, side: str, price: Decimal, count: Decimal
    ) -> SimOrder:
        return SimOrder(
            order_id=str(uuid.uuid4()),
            client_order_id=coid,
            owner=owner,
            ticker=ticker,
            side=side,
            price=price,
            initial=count,
            remaining=count,
            seq=next(self._seq),
            created=self.clock(),
        )

    def _rest(self, order: SimOrder, market: SimMarket) -> None:
        (market.bids if order.side == "bid" else market.asks).append(order)
        account = self.accounts.get(order.owner)
        if account is not None:
            account.reserved += order.remaining * order.unit_collateral()

    def _unrest(self, order: SimOrder, market: SimMarket, count: Decimal) -> None:
        """Release ``count`` of a resting order's reservation, removing it from the book when done."""
        account = self.accounts.get(order.owner)
        if account is not None:
            account.reserved -= count * order.unit_collateral()
        if order.remaining == 0 or order.status != "resting":
            book = market.bids if order.side == "bid" else market.asks
            book.remove(order)

    def create_order(self, account: Account, body: Any) -> dict[str, Any]:
        req = _validate_order(body)
        with self.lock:
            market = self.markets.get(req["ticker"])
            if market is None:
                raise std_error(404, "not_found", "market not found", req["ticker"])
            if req["client_order_id"] in account.client_order_ids:
                raise std_error(409, "order_already_exists", "order already exists", req["client_order_id"])
            if market.status not in ("active", "open") or not self.trading_active:
                raise std_error(400, "market_closed", "market is not open for trading", market.status)
            price, count, side = req["price"], req["count"], req["side"]
            if not on_tick_grid(price, market.price_ranges):
                raise std_error(
                    400, "invalid_price", "invalid price", f"{price_str(price)} is off the tick grid"
                )
            schedule = self._schedule(market)
            unit = price if side == "bid" else ONE - price
            needed = count * unit + trade_fee(schedule, count, price)
            if needed > account.cash - account.reserved:
                raise std_error(
                    400, "insufficient_balance", "insufficient balance", f"needs {price_str(needed)}"
                )
            crosses = self._crossing(market, side, price, exclude=None)
            if req["post_only"] and crosses:
                raise std_error(400, "invalid_order", "invalid order", "post only cross")
            tif = req["time_in_force"]
            if tif == "fill_or_kill":
                available = sum(
                    (o.remaining for o in self._crossing(market, side, price, account.key_id)), ZERO
                )
                if available < count:
                    raise std_error(400, "invalid_order", "invalid order", "fill or kill could not be filled")
            account.client_order_ids.add(req["client_order_id"])
            order = self._new_order(account.key_id, req["client_order_id"], market.ticker, side, price, count)
            account.orders.append(order)
            fills = self._match(order, market, schedule)
            if order.remaining > 0:
                if tif == "good_till_canceled" and order.status == "resting":
                    self._rest(order, market)
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

    def _crossing(self, market: SimMarket, side: str, price: Decimal, exclude: str | None) -> list[SimOrder]:
        if side == "bid":
            return [o for o in market.asks if o.price <= price and o.owner != exclude]
        return [o for o in market.bids if o.price >= price and o.owner != exclude]

    def _match(self, taker: SimOrder, market: SimMarket, schedule: FeeSchedule) -> list[dict[str, Any]]:
        fills: list[dict[str, Any]] = []
        opposite = "ask" if taker.side == "bid" else "bid"
        while taker.remaining > 0:
            maker = market.best(opposite)
            if maker is None:
                break
            if (taker.side == "bid" and maker.price > taker.price) or (
                taker.side == "ask" and maker.price < taker.price
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
        self, order: SimOrder, qty: Decimal, price: Decimal, fee: Decimal, is_taker: bool
    ) -> dict[str, Any] | None:
        account = self.accounts.get(order.owner)
        if account is None:
            return None
        pos = account.positions.setdefault(order.ticker, SimPosition())
        if order.side == "bid":  # buying YES closes NO first
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
        pos.position += qty if order.side == "bid" else -qty
        fill = {
            "fill_id": str(uuid.uuid4()),
            "order_id": order.order_id,
            "ticker": order.ticker,
            "side": order.side,
            "count_fp": count_str(qty),
            "yes_price_dollars": price_str(price),
            "no_price_dollars": price_str(ONE - price),
            "is_taker": is_taker,
            "fee_cost": price_str(fee),
            "created_time": iso_time(self.clock()),
        }
        account.fills.append(fill)
        return fill

    def cancel_order(self, account: Account, order_id: str) -> dict[str, Any]:
        with self.lock:
            order = next((o for o in account.orders if o.order_id == order_id), None)
            if order is None or order.status != "resting":
                raise std_error(404, "not_found", "order not found", order_id)
            market = self.markets[order.ticker]
            reduced = order.remaining
            order.status = "canceled"
            self._unrest(order, market, reduced)
            order.remaining = ZERO
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
                market.result = "yes" if value > market.floor_strike else "no"
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


def _validate_order(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise decode_error("request body must be a JSON object")
    for name in ("count", "price"):
        if name in body and not isinstance(body[name], str):
            raise decode_error(
                f"json: cannot unmarshal {type(body[name]).__name__} into field {name} of type string"
            )
    for name in ("ticker", "client_order_id", "side", "count", "price"):
        if not body.get(name):
            raise validation_error(
                f"Key: 'CreateOrderV2Request.{name}' Error:Field validation for '{name}' failed"
            )
    if body["side"] not in ("bid", "ask"):
        raise validation_error("side must be one of bid ask")
    tif = body.get("time_in_force", "good_till_canceled")
    if tif not in ("good_till_canceled", "immediate_or_cancel", "fill_or_kill"):
        raise validation_error(
            "time_in_force must be one of good_till_canceled immediate_or_cancel fill_or_kill"
        )
    if body.get("expiration_time") is not None and tif != "good_till_canceled":
        raise validation_error("expiration_time is allowed only with good_till_canceled")
    try:
        price = Decimal(body["price"])
        count = Decimal(body["count"])
    except InvalidOperation:
        raise decode_error("price and count must be decimal strings") from None
    if count <= 0 or count != count.quantize(Decimal("0.01")):
        raise validation_error("count must be positive with at most 2 decimals")
    return {
        "ticker": str(body["ticker"]),
        "client_order_id": str(body["client_order_id"]),
        "side": body["side"],
        "count": count,
        "price": price,
        "time_in_force": tif,
        "post_only": bool(body.get("post_only", False)),
    }
