"""Kalshi trading fees (kalshi-api.md, "Fees").

taker: ``0.07 × C × P × (1 − P) × fee_multiplier``; maker: ``0.0175 × …`` only when the series'
``fee_type`` is ``quadratic_with_maker_fees``. Each trade's fee is rounded *up* to $0.0001, so one
contract at 0.52 costs 0.0175. The extra "rounding fee to whole cents" is an account-level charge that
the API does not report per trade; :func:`round_up_to_cent` is there for callers that want to be
conservative about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from tsa_bot.core.errors import ConfigurationError

TAKER_RATE = Decimal("0.07")
MAKER_RATE = Decimal("0.0175")
FEE_QUANTUM = Decimal("0.0001")
CENT = Decimal("0.01")
QUADRATIC = "quadratic"
QUADRATIC_WITH_MAKER = "quadratic_with_maker_fees"


@dataclass(frozen=True)
class FeeSchedule:
    """A series' fee terms, as ``GET /series/{ticker}`` reports them."""

    fee_type: str = QUADRATIC
    fee_multiplier: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if self.fee_type not in (QUADRATIC, QUADRATIC_WITH_MAKER):
            # The "flat" table is per series and not in our reference: refuse rather than guess.
            raise ConfigurationError(f"unsupported Kalshi fee_type '{self.fee_type}'")


def trade_fee(schedule: FeeSchedule, count: Decimal, price: Decimal, *, maker: bool = False) -> Decimal:
    """The fee for one trade of ``count`` contracts at ``price`` dollars, rounded up to $0.0001."""
    if maker and schedule.fee_type != QUADRATIC_WITH_MAKER:
        return Decimal("0.0000")
    rate = MAKER_RATE if maker else TAKER_RATE
    raw = rate * schedule.fee_multiplier * count * price * (1 - price)
    return raw.quantize(FEE_QUANTUM, rounding=ROUND_CEILING)


def fee_per_contract(schedule: FeeSchedule, price: Decimal, *, maker: bool = False) -> Decimal:
    """The fee of a one-contract trade: an upper bound on the per-contract fee of a larger trade."""
    return trade_fee(schedule, Decimal(1), price, maker=maker)


def round_up_to_cent(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_CEILING)
