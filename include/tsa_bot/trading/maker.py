"""Maker execution for the live bot: the policy decides what to hold; this module says how a patient order
gets there.

- :func:`as_maker`: a buy decision as a ``post_only`` limit order at
  :func:`~tsa_bot.pricing.execution.maker_price` (the best bid of the side bought, one tick inside a spread of
  two ticks or more), paying the series' maker fee. Same market, direction and count: only the price, the
  fee and the expected value per contract change, and the reason says so.
- :func:`order_expiry`: every resting order carries an ``expiration_time`` a margin before the market closes,
  so the exchange itself cancels what is left even if the bot is down on the last evening.
- :func:`paper_maker_fills`: how the paper broker fills a resting order against a *later* snapshot: only when
  the book has moved strictly through its price (someone now offers the side we bid for below our bid, so
  that seller would have met our order first). Then the whole remainder fills at our price, as a maker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tsa_bot.core.market import ZERO, Action, BookSide, Direction, OrderBook, event_close_time
from tsa_bot.pricing.execution import Execution, maker_price
from tsa_bot.pricing.fees import FeeSchedule, fee_per_contract, trade_fee
from tsa_bot.pricing.quotes import MarketSnapshot
from tsa_bot.trading.decide import Decision

# Resting orders expire this long before the market's close: the exchange cancels them, whatever the bot does.
CLOSE_MARGIN = timedelta(minutes=15)


def as_maker(d: Decision, book: OrderBook, fees: FeeSchedule) -> Decision:
    """The buy decision ``d`` (priced as a taker, at the offer) as a post-only order resting at the bid."""
    if d.action == Action.NONE:
        return d
    assert d.limit_price is not None and d.fee_per_contract is not None and d.ev_per_contract is not None
    price = maker_price(book, d.direction)
    if price is None:
        return replace(
            d,
            action=Action.NONE,
            count=ZERO,
            client_order_id=None,
            reason=f"{d.reason}; maker: the book gives no price to rest at, nothing posted",
        )
    fee = fee_per_contract(fees, price, maker=True)
    # The same probability, a cheaper entry: the edge grows by what the offer and the taker fee would cost.
    ev = d.ev_per_contract + (d.limit_price + d.fee_per_contract) - (price + fee)
    return replace(
        d,
        limit_price=price,
        fee_per_contract=fee,
        ev_per_contract=ev,
        liquidity=Execution.MAKER.value,
        reason=(
            f"{d.reason}; maker: post-only at {price} instead of taking {d.limit_price}"
            f" (fee {fee} a contract, edge {ev.quantize(Decimal('0.0001'))})"
        ),
    )


def order_expiry(event_ticker: str, now: datetime) -> int | None:
    """The ``expiration_time`` (Unix seconds) of a resting order in the event: :data:`CLOSE_MARGIN` before
    the close. None when that moment has passed (a market the exchange still lists as open after the
    series' close, as a simulator's past-dated event is): the exchange's own close then ends the order."""
    expires = event_close_time(event_ticker) - CLOSE_MARGIN
    return int(expires.timestamp()) if expires > now else None


@dataclass(frozen=True)
class PaperMakerFill:
    client_order_id: str
    order_id: str
    ticker: str
    book_side: str
    count: Decimal
    yes_price: Decimal
    fee: Decimal


def paper_maker_fills(
    resting: Iterable[Mapping[str, Any]], snapshot: MarketSnapshot, fees: FeeSchedule
) -> list[PaperMakerFill]:
    """The fills of the paper book's resting orders (ledger rows) that ``snapshot`` shows were met.

    Only orders placed before the snapshot was taken, and not expired by then, can fill (point in time). A
    YES bid at p fills when the snapshot's YES offer is below p; a NO bid at q when its NO offer is below q.
    """
    assert snapshot.taken_at is not None
    books = {b.ticker: b for b in snapshot.books}
    out = []
    for row in resting:
        book = books.get(row["ticker"])
        if book is None or row["created_at"] >= snapshot.taken_at:
            continue
        expires = row.get("expires_at")
        if expires is not None and expires <= snapshot.taken_at:
            continue
        direction = Direction(row["direction"])
        price = row["yes_price"] if direction == Direction.YES else 1 - row["yes_price"]
        offer = min((lv.price for lv in book.asks(direction)), default=None)
        remaining = row["count"] - row["filled_count"]
        if offer is None or offer >= price or remaining <= 0:
            continue
        out.append(
            PaperMakerFill(
                row["client_order_id"],
                row["order_id"],
                row["ticker"],
                BookSide.BID if direction == Direction.YES else BookSide.ASK,
                remaining,
                row["yes_price"],
                trade_fee(fees, remaining, price, maker=True),
            )
        )
    return out
