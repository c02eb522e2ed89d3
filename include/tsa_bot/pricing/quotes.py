"""From fair strike probabilities and an order book to per-strike quotes, fees and expected value.

Pure functions: no I/O. Probabilities come from the forecaster as ``{strike: P(weekly mean > strike)}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from tsa_bot.core.market import ONE, OrderBook
from tsa_bot.pricing.fees import FeeSchedule, fee_per_contract

PROB_QUANTUM = Decimal("0.000001")


def monotone_probabilities(probs: Mapping[int, float]) -> dict[int, float]:
    """Make P(mean > strike) non-increasing in the strike, by isotonic regression (pool adjacent violators).

    A survival function cannot rise with the strike; a forecaster's Monte Carlo noise or independent
    per-strike fits can make it. The least-squares fit moves each violating run to its average, which
    is less biased than a running minimum (that only ever pushes probabilities down). Values are also
    clipped to [0, 1]; NaN is refused.
    """
    strikes = sorted(probs)
    values = [float(probs[k]) for k in strikes]
    if any(math.isnan(v) for v in values):
        raise ValueError("a strike probability is NaN")
    # PAV for a non-increasing fit: blocks of (sum, size), merged while a later block is higher.
    blocks: list[list[float]] = []
    for v in values:
        blocks.append([min(max(v, 0.0), 1.0), 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            total, size = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += size
    fitted: list[float] = []
    for total, size in blocks:
        fitted += [total / size] * int(size)
    return dict(zip(strikes, fitted, strict=True))


@dataclass(frozen=True)
class MarketSnapshot:
    event_ticker: str
    fees: FeeSchedule
    books: tuple[OrderBook, ...]
    taken_at: datetime | None = None


@dataclass(frozen=True)
class StrikeQuote:
    """What one strike is worth to us and what it costs, per contract, net of the taker fee."""

    ticker: str
    strike: int
    fair_yes: Decimal | None  # after the monotone fix; None when the forecast has no such strike
    raw_fair_yes: float | None
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    yes_ask_size: Decimal
    no_ask_size: Decimal
    fee_yes: Decimal | None  # taker fee per contract when buying YES at the ask
    fee_no: Decimal | None
    ev_yes: Decimal | None  # fair_yes - yes_ask - fee_yes
    ev_no: Decimal | None  # (1 - fair_yes) - no_ask - fee_no
    crossed: bool = False
    note: str = ""


def _prob(p: float) -> Decimal:
    return Decimal(repr(p)).quantize(PROB_QUANTUM)


def quote_strike(book: OrderBook, fair: float | None, raw: float | None, fees: FeeSchedule) -> StrikeQuote:
    yes_bid = book.yes_bids[0].price if book.yes_bids else None
    no_bid = book.no_bids[0].price if book.no_bids else None
    yes_ask = ONE - no_bid if no_bid is not None else None
    no_ask = ONE - yes_bid if yes_bid is not None else None
    crossed = yes_bid is not None and yes_ask is not None and yes_bid >= yes_ask
    fair_d = _prob(fair) if fair is not None else None
    fee_yes = fee_per_contract(fees, yes_ask) if yes_ask is not None else None
    fee_no = fee_per_contract(fees, no_ask) if no_ask is not None else None
    ev_yes = ev_no = None
    notes = []
    if fair_d is None:
        notes.append("no forecast for this strike")
    if crossed:
        # Bids that meet or beat the offers would have traded: the snapshot is stale or torn.
        notes.append("crossed book: not trading a snapshot that cannot be real")
    if fair_d is not None and not crossed:
        if yes_ask is not None and fee_yes is not None:
            ev_yes = fair_d - yes_ask - fee_yes
        if no_ask is not None and fee_no is not None:
            ev_no = (ONE - fair_d) - no_ask - fee_no
    if yes_ask is None and no_ask is None:
        notes.append("empty book")
    return StrikeQuote(
        ticker=book.ticker,
        strike=book.strike,
        fair_yes=fair_d,
        raw_fair_yes=raw,
        yes_bid=yes_bid,
        yes_ask=yes_ask,
        no_bid=no_bid,
        no_ask=no_ask,
        yes_ask_size=book.no_bids[0].count if book.no_bids else Decimal(0),
        no_ask_size=book.yes_bids[0].count if book.yes_bids else Decimal(0),
        fee_yes=fee_yes,
        fee_no=fee_no,
        ev_yes=ev_yes,
        ev_no=ev_no,
        crossed=crossed,
        note="; ".join(notes),
    )


def price_strikes(probs: Mapping[int, float], snapshot: MarketSnapshot) -> list[StrikeQuote]:
    """Quotes for every market in the snapshot, lowest strike first, using monotone probabilities."""
    fixed = monotone_probabilities(probs) if probs else {}
    return [
        quote_strike(book, fixed.get(book.strike), probs.get(book.strike), snapshot.fees)
        for book in sorted(snapshot.books, key=lambda b: b.strike)
    ]


def kelly_fraction(prob: Decimal, cost: Decimal) -> Decimal:
    """Full-Kelly stake, as a fraction of bankroll, on a contract costing ``cost`` that pays 1.

    Winning returns ``(1 - cost) / cost`` per dollar staked, so ``f* = (p - cost) / (1 - cost)``.
    """
    if cost <= 0 or cost >= 1 or prob <= cost:
        return Decimal(0)
    return (prob - cost) / (1 - cost)


def kelly_contracts(
    prob: Decimal, price: Decimal, fee: Decimal, bankroll: Decimal, fraction: Decimal
) -> Decimal:
    """Whole contracts for a fractional-Kelly stake; fees count as part of the cost."""
    cost = price + fee
    stake = fraction * kelly_fraction(prob, cost) * max(bankroll, Decimal(0))
    if stake <= 0:
        return Decimal(0)
    return (stake / cost).to_integral_value(rounding=ROUND_FLOOR)
