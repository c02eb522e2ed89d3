"""The exchange's records: resting and past orders, positions, accounts, markets, rate-limit buckets.

Every order is kept on the YES book: ``book_side`` is ``bid`` (buying YES) or ``ask`` (selling YES, i.e.
buying NO at ``1 - price``). The JSON written here is Kalshi's wire format, where that field is ``side``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tsa_bot.core.market import ONE, ZERO, BookSide
from tsa_bot.kalshi.models import PriceRange, count_str, price_str
from tsa_bot.kalshi_sim.crowd import MarketTape

HOUSE = "__house__"  # the account that owns the seeded liquidity, with unlimited funds


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class SimOrder:
    order_id: str
    client_order_id: str
    owner: str
    ticker: str
    book_side: str  # bid | ask on the YES book
    price: Decimal
    initial: Decimal
    seq: int
    created: float
    remaining: Decimal = ZERO
    filled: Decimal = ZERO
    status: str = "resting"
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO
    post_only: bool = False
    expiration_time: float | None = None  # unix seconds; a GTC order is cancelled once it has passed

    @property
    def max_fillable(self) -> Decimal:
        """What an amend's ``count`` names: contracts filled plus those still resting."""
        return self.filled + self.remaining

    def unit_collateral(self) -> Decimal:
        return self.price if self.book_side == BookSide.BID else ONE - self.price

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "ticker": self.ticker,
            "status": self.status,
            "side": self.book_side,
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

    def balance_json(self, now: float) -> dict[str, Any]:
        """``GET /portfolio/balance``: cash less what resting orders reserve, and the open positions' cost."""
        available = self.cash - self.reserved
        value = sum((p.cost for p in self.positions.values()), ZERO)
        return {
            "balance": int((available * 100).to_integral_value(ROUND_HALF_UP)),
            "balance_dollars": price_str(available),
            "portfolio_value": int((value * 100).to_integral_value(ROUND_HALF_UP)),
            "updated_ts": int(now),
        }


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

    def orders_on(self, book_side: str) -> list[SimOrder]:
        """The resting orders on one side of the YES book."""
        return self.bids if book_side == BookSide.BID else self.asks

    def best(self, book_side: str) -> SimOrder | None:
        book = self.orders_on(book_side)
        if not book:
            return None
        if book_side == BookSide.BID:
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
