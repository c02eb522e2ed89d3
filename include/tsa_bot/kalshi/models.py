"""Typed Kalshi responses. Every ``*_dollars`` and ``*_fp`` field is a ``Decimal``.

Field names follow the API so a reader can map them to kalshi-api.md one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tsa_bot.core.market import ONE, ZERO, Level, OrderBook
from tsa_bot.kalshi.errors import KalshiProtocolError

PRICE_QUANTUM = Decimal("0.0001")
COUNT_QUANTUM = Decimal("0.01")


def dec(value: Any, name: str = "value") -> Decimal:
    """A Decimal from an API string; numbers pass through ``str`` so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise KalshiProtocolError(f"Kalshi sent {value!r} for {name}, expected a decimal string")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise KalshiProtocolError(f"Kalshi sent {value!r} for {name}, expected a decimal string") from None


def dec_or_none(value: Any, name: str = "value") -> Decimal | None:
    return None if value is None or value == "" else dec(value, name)


def price_str(value: Decimal) -> str:
    """The wire form of a price: dollars, 4 decimals."""
    return str(value.quantize(PRICE_QUANTUM))


def count_str(value: Decimal | int) -> str:
    """The wire form of a count: 2 decimals."""
    return str(Decimal(value).quantize(COUNT_QUANTUM))


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _req(data: Mapping[str, Any], key: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise KalshiProtocolError(f"Kalshi response lacks '{key}'") from None


@dataclass(frozen=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ExchangeStatus:
        return cls(bool(_req(d, "exchange_active")), bool(_req(d, "trading_active")))


@dataclass(frozen=True)
class Series:
    ticker: str
    title: str
    frequency: str
    fee_type: str
    fee_multiplier: Decimal
    settlement_sources: tuple[Mapping[str, Any], ...] = ()
    contract_terms_url: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Series:
        return cls(
            ticker=_req(d, "ticker"),
            title=d.get("title", ""),
            frequency=d.get("frequency", ""),
            fee_type=_req(d, "fee_type"),
            fee_multiplier=dec(_req(d, "fee_multiplier"), "fee_multiplier"),
            settlement_sources=tuple(d.get("settlement_sources") or ()),
            contract_terms_url=d.get("contract_terms_url", ""),
        )


@dataclass(frozen=True)
class PriceRange:
    start: Decimal
    end: Decimal
    step: Decimal

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PriceRange:
        return cls(dec(d["start"], "start"), dec(d["end"], "end"), dec(d["step"], "step"))


def on_tick_grid(price: Decimal, ranges: tuple[PriceRange, ...]) -> bool:
    """True when ``price`` is strictly inside (0, 1) and on the step of a range that contains it."""
    if not ZERO < price < ONE:
        return False
    return any(r.start <= price <= r.end and (price - r.start) % r.step == 0 for r in ranges)


DEFAULT_PRICE_RANGES = (PriceRange(Decimal("0.0000"), Decimal("1.0000"), Decimal("0.0100")),)


@dataclass(frozen=True)
class Market:
    ticker: str
    event_ticker: str
    title: str
    yes_sub_title: str
    status: str
    open_time: datetime | None
    close_time: datetime | None
    yes_bid_dollars: Decimal | None
    yes_ask_dollars: Decimal | None
    no_bid_dollars: Decimal | None
    no_ask_dollars: Decimal | None
    last_price_dollars: Decimal | None
    volume_fp: Decimal
    open_interest_fp: Decimal
    strike_type: str
    floor_strike: int | None
    result: str
    expiration_value: str
    rules_primary: str = ""
    rules_secondary: str = ""
    price_ranges: tuple[PriceRange, ...] = DEFAULT_PRICE_RANGES

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Market:
        floor = d.get("floor_strike")
        ranges = tuple(PriceRange.from_json(r) for r in d.get("price_ranges") or ())
        return cls(
            ticker=_req(d, "ticker"),
            event_ticker=_req(d, "event_ticker"),
            title=d.get("title", ""),
            yes_sub_title=d.get("yes_sub_title", ""),
            status=_req(d, "status"),
            open_time=parse_time(d.get("open_time")),
            close_time=parse_time(d.get("close_time")),
            yes_bid_dollars=dec_or_none(d.get("yes_bid_dollars")),
            yes_ask_dollars=dec_or_none(d.get("yes_ask_dollars")),
            no_bid_dollars=dec_or_none(d.get("no_bid_dollars")),
            no_ask_dollars=dec_or_none(d.get("no_ask_dollars")),
            last_price_dollars=dec_or_none(d.get("last_price_dollars")),
            volume_fp=dec(d.get("volume_fp", "0"), "volume_fp"),
            open_interest_fp=dec(d.get("open_interest_fp", "0"), "open_interest_fp"),
            strike_type=d.get("strike_type", ""),
            floor_strike=None if floor in (None, "") else int(Decimal(str(floor))),
            result=d.get("result") or "",
            expiration_value=str(d.get("expiration_value") or ""),
            rules_primary=d.get("rules_primary", ""),
            rules_secondary=d.get("rules_secondary", ""),
            price_ranges=ranges or DEFAULT_PRICE_RANGES,
        )


@dataclass(frozen=True)
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    strike_date: datetime | None
    markets: tuple[Market, ...]

    @classmethod
    def from_json(cls, d: Mapping[str, Any], markets: list[Any] | None = None) -> Event:
        raw = markets if markets is not None else d.get("markets") or []
        return cls(
            event_ticker=_req(d, "event_ticker"),
            series_ticker=d.get("series_ticker", ""),
            title=d.get("title", ""),
            strike_date=parse_time(d.get("strike_date")),
            markets=tuple(Market.from_json(m) for m in raw),
        )


def parse_orderbook(ticker: str, d: Mapping[str, Any]) -> OrderBook:
    """The orderbook endpoint's answer, bids sorted best first whatever order the API sent."""
    book = d.get("orderbook_fp") or {}

    def levels(raw: Any) -> tuple[Level, ...]:
        parsed = [Level(dec(p, "price"), dec(c, "count")) for p, c in raw or ()]
        return tuple(sorted((lv for lv in parsed if lv.count > 0), key=lambda lv: -lv.price))

    yes, no = levels(book.get("yes_dollars")), levels(book.get("no_dollars"))
    return OrderBook(ticker=ticker, yes_bids=yes, no_bids=no)


@dataclass(frozen=True)
class Balance:
    balance_dollars: Decimal
    portfolio_value_dollars: Decimal | None
    updated_ts: int | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Balance:
        if "balance_dollars" in d:
            balance = dec(d["balance_dollars"], "balance_dollars")
        else:
            balance = Decimal(int(_req(d, "balance"))) / 100
        pv = d.get("portfolio_value_dollars")
        if pv is None and d.get("portfolio_value") is not None:
            pv = Decimal(int(d["portfolio_value"])) / 100
        return cls(balance, dec_or_none(pv), d.get("updated_ts"))


@dataclass(frozen=True)
class MarketPosition:
    ticker: str
    position_fp: Decimal  # + YES, - NO
    market_exposure_dollars: Decimal
    realized_pnl_dollars: Decimal
    fees_paid_dollars: Decimal

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MarketPosition:
        return cls(
            ticker=_req(d, "ticker"),
            position_fp=dec(_req(d, "position_fp"), "position_fp"),
            market_exposure_dollars=dec(d.get("market_exposure_dollars", "0")),
            realized_pnl_dollars=dec(d.get("realized_pnl_dollars", "0")),
            fees_paid_dollars=dec(d.get("fees_paid_dollars", "0")),
        )


@dataclass(frozen=True)
class Order:
    order_id: str
    client_order_id: str
    ticker: str
    status: str  # resting | canceled | executed
    yes_price_dollars: Decimal
    no_price_dollars: Decimal
    initial_count_fp: Decimal
    fill_count_fp: Decimal
    remaining_count_fp: Decimal
    taker_fees_dollars: Decimal
    maker_fees_dollars: Decimal
    created_time: datetime | None
    book_side: str = ""  # bid | ask on the YES book (wire field ``side``), when the exchange reports it

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Order:
        return cls(
            order_id=_req(d, "order_id"),
            client_order_id=d.get("client_order_id") or "",
            ticker=_req(d, "ticker"),
            status=_req(d, "status"),
            yes_price_dollars=dec(_req(d, "yes_price_dollars"), "yes_price_dollars"),
            no_price_dollars=dec(_req(d, "no_price_dollars"), "no_price_dollars"),
            initial_count_fp=dec(_req(d, "initial_count_fp"), "initial_count_fp"),
            fill_count_fp=dec(_req(d, "fill_count_fp"), "fill_count_fp"),
            remaining_count_fp=dec(_req(d, "remaining_count_fp"), "remaining_count_fp"),
            taker_fees_dollars=dec(d.get("taker_fees_dollars", "0")),
            maker_fees_dollars=dec(d.get("maker_fees_dollars", "0")),
            created_time=parse_time(d.get("created_time")),
            book_side=d.get("side", ""),
        )


@dataclass(frozen=True)
class Fill:
    fill_id: str
    order_id: str
    ticker: str
    count_fp: Decimal
    yes_price_dollars: Decimal
    no_price_dollars: Decimal
    is_taker: bool
    fee_cost: Decimal
    created_time: datetime | None
    book_side: str = ""  # bid | ask on the YES book (wire field ``side``), when reported

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Fill:
        return cls(
            fill_id=_req(d, "fill_id"),
            order_id=_req(d, "order_id"),
            ticker=_req(d, "ticker"),
            count_fp=dec(_req(d, "count_fp"), "count_fp"),
            yes_price_dollars=dec(_req(d, "yes_price_dollars"), "yes_price_dollars"),
            no_price_dollars=dec(_req(d, "no_price_dollars"), "no_price_dollars"),
            is_taker=bool(d.get("is_taker")),
            fee_cost=dec(d.get("fee_cost", "0"), "fee_cost"),
            created_time=parse_time(d.get("created_time")),
            book_side=d.get("side", ""),
        )


def _cents_or_dollars(value: Any, name: str) -> Decimal:
    """``revenue`` is integer cents; tolerate a dollar string in case the API moves it."""
    if isinstance(value, int):
        return Decimal(value) / 100
    return dec(value, name)


@dataclass(frozen=True)
class Settlement:
    ticker: str
    market_result: str
    yes_count_fp: Decimal
    no_count_fp: Decimal
    revenue_dollars: Decimal
    fee_cost: Decimal
    settled_time: datetime | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Settlement:
        return cls(
            ticker=_req(d, "ticker"),
            market_result=_req(d, "market_result"),
            yes_count_fp=dec(d.get("yes_count_fp", "0")),
            no_count_fp=dec(d.get("no_count_fp", "0")),
            revenue_dollars=_cents_or_dollars(d.get("revenue", 0), "revenue"),
            fee_cost=dec(d.get("fee_cost", "0"), "fee_cost"),
            settled_time=parse_time(d.get("settled_time")),
        )


@dataclass(frozen=True)
class OrderRequest:
    """A V2 order: always on the YES book (buy NO at q is ``ask @ 1 - q``)."""

    ticker: str
    client_order_id: str
    book_side: str  # bid | ask (wire field ``side``)
    count: Decimal
    price: Decimal
    time_in_force: str = "good_till_canceled"
    post_only: bool = False
    self_trade_prevention_type: str = "taker_at_cross"
    expiration_time: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "client_order_id": self.client_order_id,
            "side": self.book_side,
            "count": count_str(self.count),
            "price": price_str(self.price),
            "time_in_force": self.time_in_force,
            "self_trade_prevention_type": self.self_trade_prevention_type,
            "post_only": self.post_only,
        }
        if self.expiration_time is not None:
            body["expiration_time"] = self.expiration_time
        return body


@dataclass(frozen=True)
class AmendRequest:
    """A new price and size for a resting V2 order, on the YES book like ``OrderRequest``.

    ``count`` is the new max fillable: contracts already filled plus the new remaining. ``client_order_id``
    is the order's current id; after the amend the order answers to ``updated_client_order_id`` (a new,
    never used id: Kalshi deduplicates them forever). The wire (``AmendOrderRequest``) speaks the older
    side/action vocabulary, so a bid at p is sent as ``side yes, action buy, yes_price_dollars p`` and an ask
    at p as ``side no, action buy, no_price_dollars 1 - p``.
    """

    ticker: str
    book_side: str  # bid | ask on the YES book
    client_order_id: str
    updated_client_order_id: str
    price: Decimal  # on the YES book
    count: Decimal  # max fillable: fill_count + new remaining

    def __post_init__(self) -> None:
        if self.book_side not in ("bid", "ask"):
            raise ValueError(f"book_side must be bid or ask, not {self.book_side!r}")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "action": "buy",
            "client_order_id": self.client_order_id,
            "updated_client_order_id": self.updated_client_order_id,
            "count_fp": count_str(self.count),
        }
        if self.book_side == "bid":
            body.update(side="yes", yes_price_dollars=price_str(self.price))
        else:
            body.update(side="no", no_price_dollars=price_str(ONE - self.price))
        return body


@dataclass(frozen=True)
class PlacedOrder:
    """The answer to a create. ``already_existed`` is set when a 409 or a lookup found the order."""

    order_id: str
    client_order_id: str
    fill_count: Decimal
    remaining_count: Decimal
    average_fill_price: Decimal | None
    average_fee_paid: Decimal | None
    ts_ms: int | None
    already_existed: bool = False
    status: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PlacedOrder:
        return cls(
            order_id=_req(d, "order_id"),
            client_order_id=d.get("client_order_id") or "",
            fill_count=dec(d.get("fill_count", "0"), "fill_count"),
            remaining_count=dec(d.get("remaining_count", "0"), "remaining_count"),
            average_fill_price=dec_or_none(d.get("average_fill_price")),
            average_fee_paid=dec_or_none(d.get("average_fee_paid")),
            ts_ms=d.get("ts_ms"),
        )

    @classmethod
    def from_order(cls, order: Order) -> PlacedOrder:
        return cls(
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            fill_count=order.fill_count_fp,
            remaining_count=order.remaining_count_fp,
            average_fill_price=None,
            average_fee_paid=None,
            ts_ms=None,
            already_existed=True,
            status=order.status,
        )


@dataclass(frozen=True)
class CanceledOrder:
    order_id: str
    client_order_id: str
    reduced_by: Decimal
    ts_ms: int | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CanceledOrder:
        return cls(
            order_id=_req(d, "order_id"),
            client_order_id=d.get("client_order_id") or "",
            reduced_by=dec(d.get("reduced_by", "0"), "reduced_by"),
            ts_ms=d.get("ts_ms"),
        )


@dataclass(frozen=True)
class Positions:
    market_positions: tuple[MarketPosition, ...]
    event_positions: tuple[Mapping[str, Any], ...] = field(default=())


# ---- quote history: candlesticks and the historical cutoff ----------------------------------------------


@dataclass(frozen=True)
class OHLC:
    """Open, high, low and close of one price over a candle, in dollars; None where Kalshi had none."""

    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None, suffix: str, name: str) -> OHLC:
        d = d or {}
        return cls(
            *(dec_or_none(d.get(k + suffix), f"{name}.{k}{suffix}") for k in ("open", "high", "low", "close"))
        )


@dataclass(frozen=True)
class Candlestick:
    """One market candle: YES bid and ask OHLC, traded-price OHLC, volume and open interest.

    The live endpoint names fields ``open_dollars`` and ``volume_fp``; the historical one ``open`` and
    ``volume``. Both parse to this one type.
    """

    end_period_ts: datetime
    yes_bid: OHLC
    yes_ask: OHLC
    price: OHLC
    price_mean: Decimal | None
    price_previous: Decimal | None
    volume: Decimal | None
    open_interest: Decimal | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Candlestick:
        live = "volume_fp" in d or "open_interest_fp" in d
        dollars, count = ("_dollars", "_fp") if live else ("", "")
        price = d.get("price") or {}
        end = _req(d, "end_period_ts")
        if isinstance(end, bool) or not isinstance(end, int):
            raise KalshiProtocolError(f"Kalshi sent {end!r} for end_period_ts, expected unix seconds")
        return cls(
            end_period_ts=datetime.fromtimestamp(end, UTC),
            yes_bid=OHLC.from_json(d.get("yes_bid"), dollars, "yes_bid"),
            yes_ask=OHLC.from_json(d.get("yes_ask"), dollars, "yes_ask"),
            price=OHLC.from_json(price, dollars, "price"),
            price_mean=dec_or_none(price.get("mean" + dollars), "price.mean"),
            price_previous=dec_or_none(price.get("previous" + dollars), "price.previous"),
            volume=dec_or_none(d.get("volume" + count), "volume" + count),
            open_interest=dec_or_none(d.get("open_interest" + count), "open_interest" + count),
        )


@dataclass(frozen=True)
class HistoricalCutoff:
    """Markets settled before ``market_settled_ts`` (and their candles) live under ``/historical``."""

    market_settled_ts: datetime
    trades_created_ts: datetime | None
    orders_updated_ts: datetime | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> HistoricalCutoff:
        settled = parse_time(_req(d, "market_settled_ts"))
        if settled is None:
            raise KalshiProtocolError("Kalshi sent an empty market_settled_ts")
        return cls(settled, parse_time(d.get("trades_created_ts")), parse_time(d.get("orders_updated_ts")))
