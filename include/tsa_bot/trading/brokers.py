"""Where orders go: the exchange (demo, live) or a local paper book (paper).

Both answer the same questions: what do we hold and have resting, place this decision, amend that resting
order to this decision, cancel that order. The paper broker fills a taker order against the run's snapshot
of the book (its unfilled remainder is cancelled); a maker (post-only) order rests in the ledger, and
later runs fill it against their snapshots (:func:`tsa_bot.trading.maker.paper_maker_fills`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from tsa_bot.core.market import ZERO, BookSide, Direction, in_event, on_yes_book
from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.models import AmendRequest, Order, OrderRequest
from tsa_bot.pricing.fees import FeeSchedule, trade_fee
from tsa_bot.pricing.quotes import MarketSnapshot
from tsa_bot.trading.book import open_positions
from tsa_bot.trading.decide import Decision
from tsa_bot.trading.risk import ExposureState, Holding, RestingOrder
from tsa_bot.trading.store import FillRecord


@dataclass(frozen=True)
class Placement:
    order_id: str
    status: str  # resting | executed | canceled
    filled: Decimal
    already_existed: bool
    fills: tuple[FillRecord, ...]
    total_count: Decimal | None = None  # the order's count as the exchange states it, if not the decision's


class Broker(Protocol):
    mode: str

    def exposure(self, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]) -> ExposureState: ...

    def resting(self, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]) -> list[RestingOrder]: ...

    def place(self, decision: Decision, request: OrderRequest) -> Placement:
        """Send ``request``, the decision's order (``decision.order_request``), and say how it went."""
        ...

    def amend(self, stale: RestingOrder, decision: Decision, request: OrderRequest) -> Placement:
        """Turn the resting order ``stale`` (an earlier run's) into ``request``, the decision's order: its
        price, its remaining count and our ``client_order_id`` for it."""
        ...

    def cancel(self, order_id: str) -> bool: ...

    def now(self) -> datetime:
        """The time an order's expiry is reckoned from: the exchange's clock, or the paper run's moment."""
        ...


def _resting_from(order: Order, ours: Mapping[str, Mapping[str, Any]]) -> RestingOrder:
    known = ours.get(order.client_order_id)
    by_book_side = {BookSide.BID: Direction.YES, BookSide.ASK: Direction.NO}
    direction = known["direction"] if known else by_book_side.get(order.book_side, "")
    if direction == Direction.YES:
        price = order.yes_price_dollars
    elif direction == Direction.NO:
        price = order.no_price_dollars
    else:  # not ours and the book side is not reported: count the dearer direction's collateral
        price = max(order.yes_price_dollars, order.no_price_dollars)
    return RestingOrder(
        order.order_id,
        order.client_order_id,
        order.ticker,
        direction,
        order.remaining_count_fp,
        price,
        order.fill_count_fp,
    )


def _resting_from_row(row: Mapping[str, Any]) -> RestingOrder:
    """A resting order of the paper ledger, priced in the direction it buys."""
    price = row["yes_price"] if row["direction"] == Direction.YES else 1 - row["yes_price"]
    return RestingOrder(
        row["order_id"] or "",
        row["client_order_id"],
        row["ticker"],
        row["direction"],
        row["count"] - row["filled_count"],
        price,
        row["filled_count"],
    )


class ExchangeBroker:
    def __init__(self, client: KalshiClient, mode: str):
        self.client = client
        self.mode = mode

    def resting(self, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]) -> list[RestingOrder]:
        orders = self.client.orders(event_ticker=event_ticker, status="resting")
        return [_resting_from(o, ours) for o in orders if in_event(o.ticker, event_ticker)]

    def exposure(self, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]) -> ExposureState:
        positions = self.client.positions()
        holdings = {
            p.ticker: Holding(p.position_fp, p.market_exposure_dollars) for p in positions.market_positions
        }
        resting = tuple(_resting_from(o, ours) for o in self.client.orders(status="resting"))
        return ExposureState(holdings, resting, ZERO, self.client.balance().balance_dollars)

    def place(self, decision: Decision, request: OrderRequest) -> Placement:
        placed = self.client.create_order(request)
        fills = tuple(
            FillRecord(
                f.fill_id,
                f.order_id,
                decision.client_order_id,
                f.ticker,
                f.book_side or request.book_side,
                f.count_fp,
                f.yes_price_dollars,
                f.fee_cost,
                f.is_taker,
                f.created_time or datetime.now(UTC),
            )
            for f in self.client.fills(order_id=placed.order_id)
        )
        filled = sum((f.count for f in fills), ZERO)
        if placed.status:
            status = placed.status
        elif filled >= request.count:
            status = "executed"
        else:
            status = "resting" if placed.remaining_count > 0 else "canceled"
        return Placement(placed.order_id, status, filled, placed.already_existed, fills)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.client.clock(), UTC)

    def amend(self, stale: RestingOrder, decision: Decision, request: OrderRequest) -> Placement:
        """Kalshi's amend: the order keeps its place in the exchange's records and its fills; its max
        fillable becomes what has filled plus the decision's count, and it answers to the decision's id.

        The amended order is post-only when it was placed (the amend keeps that), so it never fills on the
        amend itself; fills before it are synced under the new row (``sync_fills``)."""
        amended = self.client.amend_order(
            stale.order_id,
            AmendRequest(
                request.ticker,
                request.book_side,
                stale.client_order_id,
                request.client_order_id,
                request.price,
                stale.filled + request.count,
            ),
        )
        return Placement(
            amended.order_id,
            amended.status,
            amended.fill_count_fp,
            False,
            (),
            total_count=amended.fill_count_fp + amended.remaining_count_fp,
        )

    def cancel(self, order_id: str) -> bool:
        return self.client.cancel_if_resting(order_id) is not None


class PaperBroker:
    """Fills locally against the snapshot, consuming liquidity so two orders cannot take the same level.

    ``paper_resting``: the ledger's resting paper orders (every event: total exposure counts them all).
    """

    mode = "paper"

    def __init__(
        self,
        snapshot: MarketSnapshot,
        fees: FeeSchedule,
        paper_fills: list[Mapping[str, Any]],
        settled: set[str],
        bankroll: Decimal,
        paper_resting: list[Mapping[str, Any]] | None = None,
        moment: datetime | None = None,
    ):
        self.snapshot = snapshot
        self.fees = fees
        self._fills = paper_fills
        self._settled = settled
        self._bankroll = bankroll
        self._resting = [_resting_from_row(r) for r in paper_resting or ()]
        self._moment = moment or snapshot.taken_at or datetime.now(UTC)
        self._taken: dict[tuple[str, str, Decimal], Decimal] = {}

    def resting(self, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]) -> list[RestingOrder]:
        return [o for o in self._resting if in_event(o.ticker, event_ticker)]

    def exposure(self, event_ticker: str, ours: Mapping[str, Mapping[str, Any]]) -> ExposureState:
        book = open_positions(self._fills, self._settled)
        holdings = {ticker: Holding(p["position"], p["exposure"]) for ticker, p in book.items()}
        # Settled markets are already in the bankroll through their P&L (net of fees).
        spent = sum((p["exposure"] + p["fees"] for p in book.values()), ZERO)
        return ExposureState(holdings, tuple(self._resting), ZERO, self._bankroll - spent)

    def now(self) -> datetime:
        return self._moment

    def amend(self, stale: RestingOrder, decision: Decision, request: OrderRequest) -> Placement:
        """On paper an amend is the old order's end and a new order resting in its place."""
        self._resting = [o for o in self._resting if o.client_order_id != stale.client_order_id]
        return self.place(decision, request)

    def place(self, decision: Decision, request: OrderRequest) -> Placement:
        assert decision.limit_price is not None and decision.client_order_id is not None
        if request.post_only:  # priced at or inside the bid of this snapshot: it rests, as on the exchange
            return Placement(f"paper-{decision.client_order_id}", "resting", ZERO, False, ())
        book = next(b for b in self.snapshot.books if b.ticker == decision.ticker)
        asks = book.asks(decision.direction)
        order_id = f"paper-{decision.client_order_id}"
        remaining = decision.count
        fills = []
        for level in sorted(asks, key=lambda lv: lv.price):
            if remaining <= 0 or level.price > decision.limit_price:
                break
            key = (decision.ticker, decision.direction, level.price)
            qty = min(remaining, level.count - self._taken.get(key, ZERO))
            if qty <= 0:
                continue
            self._taken[key] = self._taken.get(key, ZERO) + qty
            remaining -= qty
            book_side, yes_price = on_yes_book(decision.direction, level.price)
            fills.append(
                FillRecord(
                    f"{order_id}-{len(fills)}",
                    order_id,
                    decision.client_order_id,
                    decision.ticker,
                    book_side,
                    qty,
                    yes_price,
                    trade_fee(self.fees, qty, level.price),
                    True,
                    datetime.now(UTC),
                )
            )
        filled = decision.count - remaining
        return Placement(order_id, "executed" if remaining == 0 else "canceled", filled, False, tuple(fills))

    def cancel(self, order_id: str) -> bool:
        """A resting paper order ends here; the caller marks it cancelled in the ledger."""
        before = len(self._resting)
        self._resting = [o for o in self._resting if o.order_id != order_id]
        return len(self._resting) < before
