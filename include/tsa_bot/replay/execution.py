"""How the replay gets to what a policy wants to hold: ``taker`` buys at the offer at once; ``maker`` posts at
or inside the bid and waits.

Maker, as the replay models it (conservative, and point in time):

- **Price.** The live bot's rule, :func:`tsa_bot.pricing.execution.maker_price`: the best bid of the side
  bought, one tick inside when the spread is two ticks or more; never at or through the offer. A side
  nobody bids is posted one tick under the offer; a book with neither side is not posted to.
- **Rest.** The order rests from the moment it is posted until the next moment, when what is left of it is
  cancelled and the policy decides again with what was filled. After the week's last moment it rests until
  the close and what is left is dropped (the live bot cancels every resting order before the close too):
  an unfilled order is never turned into a taker order.
- **Fill.** Only in a candle ending after the order was posted, and only if that candle *traded strictly
  through* its price (``price_low`` below a YES bid; ``price_high`` above 1 − a NO bid): a trade there
  means a seller (buyer) took a worse price than ours, so ours, resting first at a better price, would
  have traded. No more than :data:`FILL_SHARE` of that candle's volume is ours. A fill therefore happens
  only when the market moved against the order: the adverse selection a maker faces.
- **Fee.** The series' maker fee (nothing unless its ``fee_type`` is ``quadratic_with_maker_fees``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from tsa_bot.core.market import ONE, Direction
from tsa_bot.quotes.interchange import QuoteRow

# The share of a candle's volume that traded through our price we assume was ours. A candle's volume is
# every trade in it, at any price: a quarter is a guess that our resting order was one of a few at or
# better than the prices traded, not the whole queue.
FILL_SHARE = Decimal("0.25")


@dataclass(frozen=True)
class PostedOrder:
    """A maker order resting in the replay: bought ``direction`` at ``price`` (per contract of it)."""

    posted: datetime  # the moment it was posted
    day: date  # that moment's trading day
    event_ticker: str
    ticker: str
    direction: Direction
    count: Decimal
    price: Decimal


@dataclass(frozen=True)
class MakerFill:
    order: PostedOrder
    at: datetime  # the end of the candle that traded through the order's price
    count: Decimal


def traded_through(order: PostedOrder, row: QuoteRow) -> bool:
    """Whether the candle ``row`` traded at a price strictly worse for the other side than the order's."""
    if row.price_low is None or row.price_high is None or not row.volume:
        return False
    if order.direction == Direction.YES:
        return row.price_low < order.price
    return row.price_high > ONE - order.price


def fills(order: PostedOrder, candles: Iterable[QuoteRow], until: datetime) -> list[MakerFill]:
    """The order's fills in ``candles`` (its market's, in time order) ending after it was posted and at or
    before ``until``: at most :data:`FILL_SHARE` of each candle's volume, until the order is filled."""
    left = order.count
    out = []
    for row in candles:
        if not order.posted < row.end_ts <= until or left <= 0 or not traded_through(order, row):
            continue
        assert row.volume is not None
        count = min(left, (row.volume * FILL_SHARE).to_integral_value(rounding=ROUND_FLOOR))
        if count > 0:
            out.append(MakerFill(order, row.end_ts, count))
            left -= count
    return out
