"""Turn quotes into decisions: which direction of each strike to buy, how many, up to which price, and why.

Sizing is a *target*: the configured policy (:mod:`tsa_bot.trading.policies`) says the contracts it wants
to hold, only the difference from what we already hold or have resting is ordered, and every order is cut
to the risk limits. So a retried or repeated run never doubles a
position. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

from tsa_bot.core.market import ZERO, Action, Direction, on_yes_book
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.pricing.market_implied import MarketViewError
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote
from tsa_bot.pricing.record import EdgeRecord
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.policies import POLICIES, EventBook, Sizing, Want, market_view
from tsa_bot.trading.risk import ExposureState, OrderIntent, RestingOrder, RiskLimits, largest_allowed

# Fixed forever: changing it would change every client_order_id, and with them the idempotency.
ORDER_ID_NAMESPACE = uuid.UUID("6f1d8a52-3c4e-5b7a-9e0f-2a1b3c4d5e6f")


# Marks our orders on the exchange, whichever run placed them (orders placed by hand do not carry it).
ORDER_ID_PREFIX = "tsabot-"


def client_order_id(run_id: str, ticker: str, direction: str, purpose: str = "entry") -> str:
    """Deterministic from what the order is: one order per run, market, direction and purpose."""
    return ORDER_ID_PREFIX + str(uuid.uuid5(ORDER_ID_NAMESPACE, f"{run_id}|{ticker}|{direction}|{purpose}"))


def is_our_order_id(client_order_id: str) -> bool:
    """Whether an order on the exchange was placed by this bot (by any run, recorded or not)."""
    return client_order_id.startswith(ORDER_ID_PREFIX)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What to do in one market, with the numbers behind it and why (saved as one row)."""

    event_ticker: str
    ticker: str
    strike: int
    fair_yes: Decimal | None
    raw_fair_yes: float | None
    action: Action
    count: Decimal
    limit_price: Decimal | None  # of the direction bought
    fee_per_contract: Decimal | None
    ev_per_contract: Decimal | None
    kelly_contracts: Decimal | None
    client_order_id: str | None
    reason: str
    liquidity: str = "taker"  # taker | maker (a post-only order resting at the bid: trading.maker)

    @property
    def direction(self) -> Direction:
        return Direction.YES if self.action == Action.BUY_YES else Direction.NO

    def intent(self) -> OrderIntent:
        assert self.limit_price is not None and self.fee_per_contract is not None
        return OrderIntent(
            self.event_ticker,
            self.ticker,
            self.direction,
            self.count,
            self.limit_price,
            self.fee_per_contract,
        )

    def order_request(self, time_in_force: str, *, expiration_time: int | None = None) -> OrderRequest:
        """The V2 order: buy YES at p is ``bid @ p``; buy NO at q is ``ask @ 1 - q``; a maker decision's
        order is ``post_only``. ``expiration_time`` (Unix seconds) only on a good-till-canceled order."""
        assert self.limit_price is not None and self.client_order_id is not None
        book_side, price = on_yes_book(self.direction, self.limit_price)
        return OrderRequest(
            self.ticker,
            self.client_order_id,
            book_side,
            self.count,
            price,
            time_in_force,
            post_only=self.liquidity == "maker",
            expiration_time=expiration_time if time_in_force == "good_till_canceled" else None,
        )


def _none(quote: StrikeQuote, event_ticker: str, reason: str, **kw) -> Decision:
    return Decision(
        event_ticker=event_ticker,
        ticker=quote.ticker,
        strike=quote.strike,
        fair_yes=quote.fair_yes,
        raw_fair_yes=quote.raw_fair_yes,
        action=Action.NONE,
        count=ZERO,
        limit_price=kw.get("limit_price"),
        fee_per_contract=kw.get("fee"),
        ev_per_contract=kw.get("ev"),
        kelly_contracts=kw.get("kelly"),
        client_order_id=None,
        reason=reason,
    )


def _within_limits(
    run_id: str, q: StrikeQuote, event: str, want: Want, state: ExposureState, limits: RiskLimits
) -> tuple[Decision, ExposureState]:
    """The sizing every policy ends with: cut to the risk limits, then count the order as resting, so
    the next market's sizing sees it."""
    assert want.direction is not None and want.limit_price is not None and want.fee is not None
    details = dict(limit_price=want.limit_price, fee=want.fee, ev=want.ev, kelly=want.target)
    intent = OrderIntent(event, q.ticker, want.direction, want.count, want.limit_price, want.fee)
    count, binding = largest_allowed(intent, state, limits)
    if count <= 0:
        return _none(q, event, f"sized to 0 by the {binding} limit; {want.reason}", **details), state
    coid = client_order_id(run_id, q.ticker, want.direction)
    decision = Decision(
        event_ticker=event,
        ticker=q.ticker,
        strike=q.strike,
        fair_yes=q.fair_yes,
        raw_fair_yes=q.raw_fair_yes,
        action=Action.BUY_YES if want.direction == Direction.YES else Action.BUY_NO,
        count=count,
        limit_price=want.limit_price,
        fee_per_contract=want.fee,
        ev_per_contract=want.ev,
        kelly_contracts=want.target,
        client_order_id=coid,
        reason=want.reason + (f"; cut to {count} by the {binding} limit" if binding else ""),
    )
    pending = RestingOrder("pending", coid, q.ticker, want.direction, count, want.limit_price + want.fee)
    return decision, replace(state, resting=(*state.resting, pending))


def decide(
    run_id: str,
    quotes: list[StrikeQuote],
    snapshot: MarketSnapshot,
    state: ExposureState,
    config: TradingConfig,
    *,
    weight_note: str | None = None,
    record: EdgeRecord | None = None,
) -> list[Decision]:
    """One decision per quote, by the configured policy. Sizes respect the size limits; each buy counts
    against the next.

    ``weight_note``: where the market weight came from, for a policy that learns it (said in its reasons).
    ``record``: the record at the moment's known-days count, for a policy sized by it.
    """
    policy = POLICIES[config.policy]
    market, unread = None, None
    if policy.needs_market_view:
        try:
            market = market_view(quotes)
        except MarketViewError as exc:
            unread = str(exc)
    event_book = EventBook(quotes=quotes, snapshot=snapshot, state=state, market=market, market_unread=unread)
    sizing = Sizing(
        policy=config.policy,
        limits=config.limits,
        kelly_fraction=config.kelly_fraction,
        min_edge=config.min_edge,
        market_weight=config.market_weight,
        weight_note=weight_note,
        record=record,
    )
    wants = policy.size(event_book, sizing)
    event = snapshot.event_ticker
    out: list[Decision] = []
    for q in quotes:
        want = wants.get(q.ticker)
        if want is None:
            out.append(_none(q, event, q.note or "nothing to buy"))
        elif not want.buys:
            details = dict(limit_price=want.limit_price, fee=want.fee, ev=want.ev, kelly=want.target)
            out.append(_none(q, event, want.reason, **details))
        else:
            decision, state = _within_limits(run_id, q, event, want, state, config.limits)
            out.append(decision)
    return out
