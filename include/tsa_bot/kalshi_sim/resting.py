"""What happens to an order once it rests: amend, decrease, and the crowd trading through it (admin route).

``RestingOrders`` is mixed into ``Exchange``; it works on the exchange's records under its lock, with its
book primitives (``_rest``, ``_unrest``, ``_match``, ``_apply_fill``, ``_crossing``, ``_schedule``).
Expiry and the crowd's own tape fills are in ``crowd_fills.py``. Reservations stay exact throughout: an
account's ``reserved`` is always the sum, over its resting orders, of ``remaining × collateral per
contract`` (the price for a bid, ``1 − price`` for an ask).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tsa_bot.core.market import ONE, ZERO, BookSide
from tsa_bot.kalshi.models import count_str, on_tick_grid, price_str
from tsa_bot.kalshi_sim.errors import std_error, validation_error
from tsa_bot.kalshi_sim.orders import validate_amend, validate_decrease
from tsa_bot.kalshi_sim.state import HOUSE, Account, SimMarket, SimOrder
from tsa_bot.pricing.fees import FeeSchedule, trade_fee


class RestingOrders:
    """Amend, decrease and admin crowd trades of resting orders (a part of ``Exchange``)."""

    lock: threading.RLock
    clock: Callable[[], float]
    accounts: dict[str, Account]
    markets: dict[str, SimMarket]
    trading_active: bool
    _seq: itertools.count
    _expiring: list[SimOrder]  # resting orders with an expiration_time, swept by expire_due

    # Provided by Exchange.
    _rest: Callable[[SimOrder, SimMarket], None]
    _unrest: Callable[[SimOrder, SimMarket, Decimal], None]
    _match: Callable[[SimOrder, SimMarket, FeeSchedule], list[dict[str, Any]]]
    _apply_fill: Callable[..., dict[str, Any] | None]
    _crossing: Callable[[SimMarket, str, Decimal, str | None], list[SimOrder]]
    _schedule: Callable[[SimMarket], FeeSchedule]
    expire_due: Callable[[], list[SimOrder]]  # crowd_fills.CrowdFills: expiry and tape fills, in time order

    # -- amend --

    def amend_order(self, account: Account, order_id: str, body: Any) -> dict[str, Any]:
        """``POST /portfolio/orders/{order_id}/amend``: a new price and/or max fillable count.

        The body is Kalshi's ``AmendOrderRequest`` (read onto the YES book by ``orders.validate_amend``;
        our bid at p is ``side yes, action buy, yes price p``, our ask at p ``side no, action buy, no price
        1 − p``). ``count`` is the new max fillable, ``fill_count + new remaining``. Rules:

        - the order keeps its ``order_id``; its ``client_order_id`` becomes ``updated_client_order_id``,
          which joins the account's forever-deduplicated ids (reusing one, or keeping the current one,
          answers 409 ``order_already_exists``); ``initial_count`` becomes the new max fillable;
        - a price change or a larger count loses queue priority (the order is re-sequenced); a pure
          decrease (or a new id alone) keeps it;
        - a post-only order amended to a crossing price is refused 400 ``invalid_order`` "post only
          cross" and left unchanged; any other order amended to a crossing price trades as taker first;
        - a count at or below ``fill_count`` (nothing left to rest) is a 400 validation error;
        - an unknown order, another account's, or one no longer resting is 404 ``not_found``; another
          ticker, or a side/action that is not the order's side, is 400 ``invalid_order``;
        - ``client_order_id`` must be the order's current one, except for a retried amend that already
          landed (the order's id is already ``updated_client_order_id``, with the same price and count):
          that answers 200 with the order unchanged (``old_order`` equal to ``order``);
        - the balance check asks only for what the amend adds to the order's reservation, plus the taker
          fee when the new price crosses.

        Answers ``{old_order, order}`` in the orders listing's shape.
        """
        req = validate_amend(body)
        with self.lock:
            self.expire_due()
            order = self._resting_order(account, order_id)
            if req["ticker"] != order.ticker:
                raise std_error(
                    400, "invalid_order", "invalid order", f"order {order_id} is on {order.ticker}"
                )
            if req["book_side"] != order.book_side:
                raise std_error(400, "invalid_order", "invalid order", "side and action are not the order's")
            price, updated = req["price"], req["updated_client_order_id"]
            new_max = req["count"] if req["count"] is not None else order.max_fillable
            if order.client_order_id == updated and price == order.price and new_max == order.max_fillable:
                unchanged = order.to_json()  # a retried amend that already landed
                return {"old_order": unchanged, "order": unchanged}
            if req["client_order_id"] != order.client_order_id:
                raise std_error(
                    400, "invalid_order", "invalid order", "client_order_id is not the order's current one"
                )
            if updated in account.client_order_ids:
                raise std_error(409, "order_already_exists", "order already exists", updated)
            market = self.markets[order.ticker]
            if market.status not in ("active", "open") or not self.trading_active:
                raise std_error(400, "market_closed", "market is not open for trading", market.status)
            if not on_tick_grid(price, market.price_ranges):
                raise std_error(
                    400, "invalid_price", "invalid price", f"{price_str(price)} is off the tick grid"
                )
            if new_max <= order.filled:
                raise validation_error(
                    f"count {count_str(new_max)} must exceed the {count_str(order.filled)} contracts filled"
                )
            crosses = bool(self._crossing(market, order.book_side, price, None))
            if order.post_only and crosses:
                raise std_error(400, "invalid_order", "invalid order", "post only cross")
            schedule = self._schedule(market)
            remaining = new_max - order.filled
            held = order.remaining * order.unit_collateral()
            unit = price if order.book_side == BookSide.BID else ONE - price
            needed = remaining * unit + (trade_fee(schedule, remaining, price) if crosses else ZERO)
            if needed > account.cash - account.reserved + held:
                raise std_error(
                    400, "insufficient_balance", "insufficient balance", f"needs {price_str(needed)}"
                )

            old = order.to_json()
            market.orders_on(order.book_side).remove(order)
            account.reserved -= held
            if price != order.price or new_max > order.max_fillable:
                order.seq = next(self._seq)  # to the back of the queue at its price
            order.price, order.remaining, order.initial = price, remaining, new_max
            order.client_order_id = updated
            account.client_order_ids.add(updated)
            if crosses:
                self._match(order, market, schedule)
            if order.status == "resting" and order.remaining > 0:
                self._rest(order, market)
            elif order.remaining == 0:
                order.status = "executed"
            return {"old_order": old, "order": order.to_json()}

    # -- decrease, cancel, expiry --

    def decrease_order(self, account: Account, order_id: str, body: Any) -> dict[str, Any]:
        """``POST /portfolio/orders/{order_id}/decrease``: fewer resting contracts, queue priority kept.

        ``reduce_by`` takes that many off the remaining count (more than remain is a 400 validation
        error); ``reduce_to`` leaves that many resting, and is harmless to repeat: at or above the
        remaining count it changes nothing. Down to zero the order is cancelled. Answers ``{order}``.
        """
        kind, contracts = validate_decrease(body)
        with self.lock:
            self.expire_due()
            order = self._resting_order(account, order_id)
            if kind == "by" and contracts > order.remaining:
                raise validation_error(
                    f"reduce_by {count_str(contracts)} exceeds the {count_str(order.remaining)} resting"
                )
            cut = contracts if kind == "by" else max(order.remaining - contracts, ZERO)
            if cut:
                self._reduce(order, self.markets[order.ticker], cut)
            return {"order": order.to_json()}

    def _resting_order(self, account: Account, order_id: str) -> SimOrder:
        order = next((o for o in account.orders if o.order_id == order_id), None)
        if order is None or order.status != "resting":
            raise std_error(404, "not_found", "order not found", order_id)
        return order

    def _reduce(self, order: SimOrder, market: SimMarket, cut: Decimal) -> None:
        """Take ``cut`` contracts off a resting order and release their reservation; at zero, cancel it."""
        order.remaining -= cut
        if order.remaining == 0:
            order.status = "canceled"
        self._unrest(order, market, cut)

    # -- the crowd --

    def crowd_trade(
        self, ticker: str, yes_price: Decimal, count: Decimal | None = None
    ) -> list[dict[str, Any]]:
        """The crowd's view moved to ``yes_price``: the house takes every resting order strictly through it.

        YES bids above ``yes_price`` and YES asks below it, best price first then earliest, up to
        ``count`` contracts in all (None: every one), each at the resting order's own price. The resting
        owner's fill is a maker fill (``is_taker`` false) paying the series' maker fee (zero on
        ``quadratic``). House orders are never taken. Returns one record per fill: ``order_id``,
        ``client_order_id``, ``account``, ``side``, ``count_fp``, ``yes_price_dollars``, ``fee_cost``.
        """
        yes_price = Decimal(yes_price)
        if not ZERO <= yes_price <= ONE:
            raise validation_error("yes_price must be between 0 and 1")
        if count is not None and not Decimal(count) > 0:
            raise validation_error("count must be positive")
        with self.lock:
            self.expire_due()
            market = self.markets.get(ticker)
            if market is None:
                raise std_error(404, "not_found", "market not found", ticker)
            if market.status not in ("active", "open"):
                raise std_error(400, "market_closed", "market is not open for trading", market.status)
            schedule = self._schedule(market)
            left = None if count is None else Decimal(count)
            fills: list[dict[str, Any]] = []
            for side in (BookSide.BID, BookSide.ASK):
                while left is None or left > 0:
                    maker = _best_through(market, side, yes_price)
                    if maker is None:
                        break
                    qty = maker.remaining if left is None else min(maker.remaining, left)
                    fills.append(self._fill_resting(maker, market, schedule, qty))
                    if left is not None:
                        left -= qty
            return fills

    def _fill_resting(
        self, maker: SimOrder, market: SimMarket, schedule: FeeSchedule, qty: Decimal, at: float | None = None
    ) -> dict[str, Any]:
        """Fill ``qty`` of a resting order at its price as maker. ``at``: the time of the crowd's tape trade
        that filled it (the fill's time; the tape already counts that trade in volume and last price)."""
        fee = trade_fee(schedule, qty, maker.price, maker=True)
        maker.remaining -= qty
        maker.filled += qty
        maker.maker_fees += fee
        fill = self._apply_fill(maker, qty, maker.price, fee, False, at=at) or {}
        if maker.remaining == 0:
            maker.status = "executed"
        self._unrest(maker, market, qty)
        if at is None:
            market.last_price = maker.price
            market.volume += qty
        return {
            "order_id": maker.order_id,
            "client_order_id": maker.client_order_id,
            "account": maker.owner,
            "side": maker.book_side,
            "count_fp": count_str(qty),
            "yes_price_dollars": price_str(maker.price),
            "fee_cost": price_str(fee),
            "fill_id": fill.get("fill_id", ""),
        }


def _best_through(market: SimMarket, side: str, yes_price: Decimal) -> SimOrder | None:
    """The best non-house order on ``side`` strictly through ``yes_price``, or None."""
    if side == BookSide.BID:
        through = [o for o in market.bids if o.owner != HOUSE and o.price > yes_price]
        return min(through, key=lambda o: (-o.price, o.seq), default=None)
    through = [o for o in market.asks if o.owner != HOUSE and o.price < yes_price]
    return min(through, key=lambda o: (o.price, o.seq), default=None)
