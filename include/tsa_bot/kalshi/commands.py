"""``tsabot kalshi ...``: drive the client (the simulator's command lives in ``tsa_bot.kalshi_sim``).

Configured by ``KALSHI_API_BASE``, ``KALSHI_KEY_ID`` and ``KALSHI_PRIVATE_KEY_PATH``; production also
needs ``KALSHI_ALLOW_PRODUCTION=1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import ONE, BookSide, Direction, on_yes_book, tradable_ask, tradable_bid


def _on_yes_book(action: str, direction: str, price: Decimal) -> tuple[BookSide, Decimal]:
    """An intent as a V2 order on the YES book (see kalshi-api.md): selling one side at p is buying the
    other at 1 - p."""
    if action == "sell":
        direction, price = (Direction.NO if direction == Direction.YES else Direction.YES), ONE - price
    return on_yes_book(direction, price)


def register(subparsers: argparse._SubParsersAction) -> None:
    kalshi = subparsers.add_parser("kalshi", help="talk to Kalshi (or the simulator) with the bot's client")
    sub = kalshi.add_subparsers(dest="kalshi_command", required=True, metavar="SUBCOMMAND")

    def add(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.set_defaults(handler=handler)
        return p

    add("status", "exchange and trading status", _status)
    add("balance", "available balance", _balance)
    add("event", "an event and its markets", _event).add_argument("ticker")
    book = add("orderbook", "a market's order book, best first", _orderbook)
    book.add_argument("ticker")
    book.add_argument("--depth", type=int, default=None)
    add("positions", "open positions", _positions)
    orders = add("orders", "your orders", _orders)
    orders.add_argument("--ticker")
    orders.add_argument("--status", choices=["resting", "canceled", "executed"])
    place = add("place", "place a limit order, e.g. 'place KXTSAW-26FEB15-A2.30 buy yes 10 0.42'", _place)
    place.add_argument("ticker")
    place.add_argument("action", choices=["buy", "sell"])
    place.add_argument("side", choices=["yes", "no"])
    place.add_argument("count", help="contracts, e.g. 10")
    place.add_argument("price", help="dollars for the side named, e.g. 0.42")
    place.add_argument("--client-order-id", help="idempotency key (default: a new UUID)")
    place.add_argument(
        "--tif",
        default="good_till_canceled",
        choices=["good_till_canceled", "immediate_or_cancel", "fill_or_kill"],
    )
    add("cancel", "cancel an order", _cancel).add_argument("order_id")


# ---- helpers ------------------------------------------------------------------------------------------


def _client(signed: bool = False):
    from tsa_bot.kalshi.client import KalshiClient
    from tsa_bot.kalshi.hosts import KalshiSettings

    settings = KalshiSettings.from_env()
    if signed and not settings.key_id:
        raise ConfigurationError("KALSHI_KEY_ID is not set")
    if signed and not settings.private_key_path:
        raise ConfigurationError("KALSHI_PRIVATE_KEY_PATH is not set")
    return KalshiClient.from_settings(settings)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _emit(args: argparse.Namespace, value: Any, lines: list[str]) -> int:
    if args.json:
        json.dump(_plain(value), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    return 0


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigurationError(f"{name} must be a number, got '{text}'") from None
    if not value.is_finite() or value <= 0:
        raise ConfigurationError(f"{name} must be positive, got '{text}'")
    return value


MAX_CLI_CONTRACTS = 1_000_000


def _contracts(text: str) -> Decimal:
    """A count of whole contracts: ``1.006`` would otherwise go out silently rounded to 1.01."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value != value.to_integral_value() or not 1 <= value <= MAX_CLI_CONTRACTS:
        raise ConfigurationError(
            f"count must be a whole number of contracts, 1 to {MAX_CLI_CONTRACTS:,}; got '{text}'"
        )
    return Decimal(int(value))


def _p(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# ---- handlers ------------------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    with _client() as c:
        s = c.exchange_status()
    return _emit(args, s, [f"exchange active: {s.exchange_active}", f"trading active: {s.trading_active}"])


def _balance(args: argparse.Namespace) -> int:
    with _client(signed=True) as c:
        b = c.balance()
    return _emit(args, b, [f"balance: ${b.balance_dollars}"])


def _event(args: argparse.Namespace) -> int:
    with _client() as c:
        e = c.event(args.ticker)
    lines = [f"{e.event_ticker}: {e.title}"]
    lines += [
        # An empty side, which Kalshi reports as a 0 bid or a 1 ask, shows as "-".
        f"{m.ticker:<28} {m.status:<10} "
        f"yes {_p(tradable_bid(m.yes_bid_dollars))}/{_p(tradable_ask(m.yes_ask_dollars))}  "
        f"vol {m.volume_fp}  result {m.result or '-'}"
        for m in e.markets
    ]
    return _emit(args, e, lines)


def _orderbook(args: argparse.Namespace) -> int:
    with _client() as c:
        book = c.orderbook(args.ticker, args.depth)
    lines = [f"{book.ticker}", "YES bids:"] + [f"  {lv.price:.4f} x {lv.count}" for lv in book.yes_bids]
    lines += ["NO bids:"] + [f"  {lv.price:.4f} x {lv.count}" for lv in book.no_bids]
    return _emit(args, book, lines)


def _positions(args: argparse.Namespace) -> int:
    with _client(signed=True) as c:
        positions = c.positions()
    lines = [
        f"{p.ticker:<28} {p.position_fp:>10} exposure ${p.market_exposure_dollars} "
        f"fees ${p.fees_paid_dollars}"
        for p in positions.market_positions
    ] or ["no open positions"]
    return _emit(args, positions, lines)


def _orders(args: argparse.Namespace) -> int:
    with _client(signed=True) as c:
        orders = c.orders(ticker=args.ticker, status=args.status)
    lines = [
        f"{o.order_id}  {o.ticker:<28} {o.status:<9} yes {o.yes_price_dollars:.4f} "
        f"filled {o.fill_count_fp}/{o.initial_count_fp}  {o.client_order_id}"
        for o in orders
    ] or ["no orders"]
    return _emit(args, orders, lines)


def _place(args: argparse.Namespace) -> int:
    from tsa_bot.kalshi.models import OrderRequest

    count = _contracts(args.count)
    price = _decimal(args.price, "price")
    if price >= 1:
        raise ConfigurationError(f"price is in dollars and must be below 1, got {args.price}")
    book_side, yes_price = _on_yes_book(args.action, args.side, price)
    coid = args.client_order_id or str(uuid.uuid4())
    request = OrderRequest(args.ticker, coid, book_side, count, yes_price, args.tif)
    with _client(signed=True) as c:
        placed = c.create_order(request)
    note = " (already placed earlier)" if placed.already_existed else ""
    return _emit(
        args,
        placed,
        [
            f"order {placed.order_id}{note}: filled {placed.fill_count}, resting {placed.remaining_count}",
            f"client_order_id {placed.client_order_id}",
        ],
    )


def _cancel(args: argparse.Namespace) -> int:
    with _client(signed=True) as c:
        cancelled = c.cancel_order(args.order_id)
    return _emit(args, cancelled, [f"cancelled {cancelled.order_id}: reduced by {cancelled.reduced_by}"])
