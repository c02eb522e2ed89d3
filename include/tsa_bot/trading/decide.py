"""Turn quotes into decisions: which side of each strike to buy, how many, up to which price, and why.

Sizing is a *target*: fractional Kelly gives the contracts we want to hold, and only the difference
from what we already hold or have resting is ordered. So a retried or repeated run never doubles a
position. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

from tsa_bot.core.market import ONE, ZERO, Action, Direction, OrderBook, on_yes_book
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.pricing.fees import FeeSchedule, fee_per_contract
from tsa_bot.pricing.quotes import MarketSnapshot, StrikeQuote, kelly_contracts
from tsa_bot.trading.config import Policy, TradingConfig
from tsa_bot.trading.policies import joint_choices
from tsa_bot.trading.risk import ExposureState, OrderIntent, RestingOrder, largest_allowed

# Fixed forever: changing it would change every client_order_id, and with them the idempotency.
ORDER_ID_NAMESPACE = uuid.UUID("6f1d8a52-3c4e-5b7a-9e0f-2a1b3c4d5e6f")


# Marks our orders on the exchange, whichever run placed them (orders placed by hand do not carry it).
ORDER_ID_PREFIX = "tsabot-"


def client_order_id(run_id: str, ticker: str, direction: str, purpose: str = "entry") -> str:
    """Deterministic from what the order is: one order per run, market, side and purpose."""
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
    limit_price: Decimal | None  # of the side bought
    fee_per_contract: Decimal | None
    ev_per_contract: Decimal | None
    kelly_contracts: Decimal | None
    client_order_id: str | None
    reason: str

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

    def order_request(self, time_in_force: str) -> OrderRequest:
        """The V2 order: buy YES at p is ``bid @ p``; buy NO at q is ``ask @ 1 - q``."""
        assert self.limit_price is not None and self.client_order_id is not None
        book_side, price = on_yes_book(self.direction, self.limit_price)
        return OrderRequest(self.ticker, self.client_order_id, book_side, self.count, price, time_in_force)


def _levels_worth_buying(
    book: OrderBook, direction: Direction, prob: Decimal, fees: FeeSchedule, min_edge: Decimal
) -> tuple[Decimal, Decimal | None]:
    """Contracts offered at prices still worth ``min_edge`` after fees, and the worst such price."""
    asks = book.asks(direction)
    available, limit = ZERO, None
    for level in sorted(asks, key=lambda lv: lv.price):
        if prob - level.price - fee_per_contract(fees, level.price) < min_edge:
            break
        available += level.count
        limit = level.price
    return available, limit


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


@dataclass(frozen=True)
class _Want:
    """What a policy wants to buy in one market before the risk limits: a side, a count, and why."""

    direction: Direction
    count: Decimal
    limit_price: Decimal
    fee: Decimal
    ev: Decimal
    target: Decimal  # the position the policy sizes to (Kelly's or the ladder's)
    reason: str


def _within_limits(
    run_id: str, q: StrikeQuote, event: str, want: _Want, state: ExposureState, config: TradingConfig
) -> tuple[Decision, ExposureState]:
    """The sizing every policy ends with: cut to the risk limits, then count the order as resting, so
    the next market's sizing sees it."""
    details = dict(limit_price=want.limit_price, fee=want.fee, ev=want.ev, kelly=want.target)
    intent = OrderIntent(event, q.ticker, want.direction, want.count, want.limit_price, want.fee)
    count, binding = largest_allowed(intent, state, config.limits)
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
) -> list[Decision]:
    """One decision per quote. Sizes respect the size limits; each buy counts against the next.

    ``weight_note``: where a joint policy's market weight came from, said in every reason.
    """
    if config.policy is not Policy.KELLY:
        return _decide_joint(run_id, quotes, snapshot, state, config, weight_note)
    books = {b.ticker: b for b in snapshot.books}
    event = snapshot.event_ticker
    out: list[Decision] = []
    for q in quotes:
        if q.fair_yes is None or q.crossed or (q.ev_yes is None and q.ev_no is None):
            out.append(_none(q, event, q.note or "nothing to buy"))
            continue
        candidates = [
            (ev, d) for ev, d in ((q.ev_yes, Direction.YES), (q.ev_no, Direction.NO)) if ev is not None
        ]
        ev, direction = max(candidates)
        if ev < config.min_edge:
            evs = ", ".join(f"{d} {e}" for e, d in candidates)
            out.append(_none(q, event, f"no edge: EV per contract {evs} below the minimum {config.min_edge}"))
            continue
        prob = q.fair_yes if direction == Direction.YES else ONE - q.fair_yes
        available, limit = _levels_worth_buying(
            books[q.ticker], direction, prob, snapshot.fees, config.min_edge
        )
        assert limit is not None  # the best ask passed the same test
        fee = fee_per_contract(snapshot.fees, limit)
        target = kelly_contracts(prob, limit, fee, state.bankroll, config.kelly_fraction)
        held = state.held(q.ticker, direction)
        want = min(target - held, available)
        if want <= 0:
            reason = f"holding {held} {direction.upper()} of a Kelly target of {target}"
            out.append(_none(q, event, reason, limit_price=limit, fee=fee, ev=ev, kelly=target))
            continue
        reason = (
            f"EV {ev} per contract after fees; Kelly target {target}, holding {held}, "
            f"{available} offered up to {limit}"
        )
        decision, state = _within_limits(
            run_id, q, event, _Want(direction, want, limit, fee, ev, target, reason), state, config
        )
        out.append(decision)
    return out


def _decide_joint(
    run_id: str,
    quotes: list[StrikeQuote],
    snapshot: MarketSnapshot,
    state: ExposureState,
    config: TradingConfig,
    weight_note: str | None = None,
) -> list[Decision]:
    """The joint policies (``trading.policies``): the ladder's targets, then the per-order risk sizing."""
    event = snapshot.event_ticker
    choices, note = joint_choices(quotes, snapshot, state, config, weight_note=weight_note)
    out: list[Decision] = []
    for q in quotes:
        c = choices.get(q.ticker)
        if c is None:
            out.append(_none(q, event, q.note or "nothing to buy"))
            continue
        if c.count <= 0 or c.limit_price is None or c.fee_per_contract is None:
            out.append(_none(q, event, f"{c.reason}; {note}", kelly=c.target))
            continue
        ev = c.prob - c.limit_price - c.fee_per_contract
        want = _Want(
            Direction(c.direction),
            c.count,
            c.limit_price,
            c.fee_per_contract,
            ev,
            c.target,
            f"{c.reason}; {note}",
        )
        decision, state = _within_limits(run_id, q, event, want, state, config)
        out.append(decision)
    return out
