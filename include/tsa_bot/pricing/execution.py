"""How an order gets to what a policy wants to hold, and where a patient (maker) order rests.

``taker`` buys at the offer at once and pays the spread and the taker fee. ``maker`` posts a ``post_only``
limit order at the best bid of the side bought, one :data:`TICK` inside when the spread is two ticks or
more, and waits for the market to come to it: it pays no spread and, on a series whose ``fee_type`` is not
``quadratic_with_maker_fees``, no fee. The live bot (``trading``) and the replay (``replay.execution``)
price maker orders with the same :func:`maker_price`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from tsa_bot.core.errors import ValidationError
from tsa_bot.core.market import ONE, ZERO, Direction, OrderBook

TICK = Decimal("0.01")  # KXTSAW's price step (whole cents)


class Execution(StrEnum):
    TAKER = "taker"
    MAKER = "maker"


def parse_execution(text: str, flag: str = "--execution") -> Execution:
    try:
        return Execution(str(text).strip().lower())
    except ValueError:
        raise ValidationError(f"{flag} must be taker or maker, not {text!r}") from None


def maker_price(book: OrderBook, direction: Direction) -> Decimal | None:
    """Where a maker order buying ``direction`` rests; None if the book gives it no place.

    The best bid of that side (YES: the YES bid; NO: the NO bid, 1 − the YES ask), one tick inside when the
    spread is two ticks or more; a side nobody bids, one tick under the offer; never at or through the
    offer, so a post-only order at this price does not cross the book it was priced on.
    """
    bids = book.yes_bids if direction == Direction.YES else book.no_bids
    offers = book.asks(direction)
    bid = max((lv.price for lv in bids), default=None)
    offer = min((lv.price for lv in offers), default=None)
    if bid is None and offer is None:
        return None
    if bid is None:
        price = offer - TICK  # type: ignore[operator]
    elif offer is None or offer - bid >= 2 * TICK:
        price = bid + TICK
    else:
        price = bid
    if not ZERO < price < ONE or (offer is not None and price >= offer):
        return None
    return price
