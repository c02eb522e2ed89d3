"""Risk: what we hold and have resting, and the hard limits every order is checked against first.

Exposure is money at risk: what the open contracts cost plus the collateral of resting orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from tsa_bot.core.market import ONE, ZERO, Direction, in_event


@dataclass(frozen=True)
class RiskLimits:
    """Hard limits, checked before any order request. Money in dollars."""

    max_order_contracts: Decimal = Decimal(100)
    max_order_cost: Decimal = Decimal(50)
    max_contracts_per_market: Decimal = Decimal(200)
    max_event_exposure: Decimal = Decimal(200)
    max_total_exposure: Decimal = Decimal(500)
    max_daily_loss: Decimal = Decimal(100)
    kill_switch: bool = False


@dataclass(frozen=True)
class Holding:
    position: Decimal = ZERO  # + YES, - NO
    exposure: Decimal = ZERO  # what the open contracts cost, dollars


@dataclass(frozen=True)
class RestingOrder:
    order_id: str
    client_order_id: str
    ticker: str
    direction: str  # yes | no
    remaining: Decimal
    price: Decimal  # of the direction bought
    filled: Decimal = ZERO  # filled so far: an amend states filled + the new remaining

    @property
    def collateral(self) -> Decimal:
        return self.remaining * self.price


@dataclass(frozen=True)
class ExposureState:
    holdings: Mapping[str, Holding] = field(default_factory=dict)
    resting: tuple[RestingOrder, ...] = ()
    realised_pnl_today: Decimal = ZERO
    bankroll: Decimal = ZERO

    def held(self, ticker: str, direction: str) -> Decimal:
        """Contracts held plus resting in one direction of one market."""
        pos = self.holdings.get(ticker, Holding()).position
        held = max(pos, ZERO) if direction == Direction.YES else max(-pos, ZERO)
        resting = sum(
            (o.remaining for o in self.resting if o.ticker == ticker and o.direction == direction), ZERO
        )
        return held + resting

    def event_exposure(self, event_ticker: str) -> Decimal:
        held = sum((h.exposure for t, h in self.holdings.items() if in_event(t, event_ticker)), ZERO)
        return held + sum((o.collateral for o in self.resting if in_event(o.ticker, event_ticker)), ZERO)

    def total_exposure(self) -> Decimal:
        held = sum((h.exposure for h in self.holdings.values()), ZERO)
        return held + sum((o.collateral for o in self.resting), ZERO)


@dataclass(frozen=True)
class OrderIntent:
    """Buy ``count`` contracts of ``direction`` in ``ticker`` at up to ``price`` (of that direction)."""

    event_ticker: str
    ticker: str
    direction: str  # yes | no
    count: Decimal
    price: Decimal
    fee_per_contract: Decimal

    @property
    def cost(self) -> Decimal:
        return self.count * (self.price + self.fee_per_contract)


@dataclass(frozen=True)
class Violation:
    code: str
    reason: str
    limit: Decimal | bool
    value: Decimal | bool


@dataclass(frozen=True)
class _Measure:
    """One size limit as it applies to one intent: ``used + count * per_contract <= limit``."""

    code: str
    limit: Decimal
    used: Decimal
    per_contract: Decimal
    message: str  # formatted with value and limit

    def value(self, count: Decimal) -> Decimal:
        return self.used + count * self.per_contract

    def most_contracts(self) -> Decimal:
        return (self.limit - self.used) / self.per_contract


def _size_limits(intent: OrderIntent, state: ExposureState, limits: RiskLimits) -> tuple[_Measure, ...]:
    """Every limit on an order's size, defined once: :func:`check_order` checks them, and
    :func:`largest_allowed` sizes by them."""
    unit = intent.price + intent.fee_per_contract
    return (
        _Measure(
            "order_contracts",
            limits.max_order_contracts,
            ZERO,
            ONE,
            "{value} contracts exceed the largest order of {limit}",
        ),
        _Measure(
            "order_cost",
            limits.max_order_cost,
            ZERO,
            unit,
            "order cost {value} exceeds the largest order of ${limit}",
        ),
        _Measure(
            "market_contracts",
            limits.max_contracts_per_market,
            state.held(intent.ticker, intent.direction),
            ONE,
            f"{{value}} contracts in {intent.ticker} exceed {{limit}}",
        ),
        _Measure(
            "event_exposure",
            limits.max_event_exposure,
            state.event_exposure(intent.event_ticker),
            unit,
            f"exposure {{value}} in {intent.event_ticker} would exceed ${{limit}}",
        ),
        _Measure(
            "total_exposure",
            limits.max_total_exposure,
            state.total_exposure(),
            unit,
            "total exposure {value} would exceed ${limit}",
        ),
    )


def check_order(intent: OrderIntent, state: ExposureState, limits: RiskLimits) -> list[Violation]:
    """Every limit the order would break; empty means it may be sent."""
    out: list[Violation] = []
    if limits.kill_switch:
        out.append(Violation("kill_switch", "the kill switch is on: no new orders", True, True))
    if -state.realised_pnl_today >= limits.max_daily_loss:
        out.append(
            Violation(
                "daily_loss",
                f"today's realised loss {-state.realised_pnl_today} reached the limit "
                f"{limits.max_daily_loss}",
                limits.max_daily_loss,
                -state.realised_pnl_today,
            )
        )
    for m in _size_limits(intent, state, limits):
        value = m.value(intent.count)
        if value > m.limit:
            out.append(Violation(m.code, m.message.format(value=value, limit=m.limit), m.limit, value))
    return out


def largest_allowed(intent: OrderIntent, state: ExposureState, limits: RiskLimits) -> tuple[Decimal, str]:
    """The most contracts of this intent the size limits allow, and which limit binds (``""`` if none).

    Kill switch and daily loss are not sizing limits: they reject, so that the rejection is recorded.
    """
    caps = {"": intent.count} | {m.code: m.most_contracts() for m in _size_limits(intent, state, limits)}
    binding = min(caps, key=lambda k: caps[k])
    count = max(caps[binding], ZERO).to_integral_value(rounding=ROUND_FLOOR)
    return count, ("" if caps[binding] >= intent.count else binding)
