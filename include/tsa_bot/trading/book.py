"""The book of fills: positions, exposure and P&L computed from our fills, one way for every caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.market import ONE, ZERO, BookSide
from tsa_bot.trading import store


def position_pnl(fills: list[Mapping[str, Any]], result: str) -> dict[str, Decimal]:
    """P&L of one market's fills once it settles.

    Buying YES at p earns ``R - p`` per contract and selling YES (buying NO at 1 - p) earns ``p - R``,
    where R is 1 for a YES result: this holds whatever netting happened along the way.
    """
    settle_value = ONE if result == "yes" else ZERO
    net = gross = fees = pnl = ZERO
    for f in fills:
        count, price = f["count"], f["yes_price"]
        if f["book_side"] == BookSide.BID:
            net += count
            gross += count * price
            pnl += count * (settle_value - price)
        else:
            net -= count
            gross += count * (1 - price)
            pnl += count * (price - settle_value)
        fees += f["fee"]
    payout = max(net, ZERO) * settle_value + max(-net, ZERO) * (1 - settle_value)
    return {"net_position": net, "gross_cost": gross, "fees": fees, "payout": payout, "pnl": pnl - fees}


def open_positions(fills: list[Mapping[str, Any]], settled: set[str]) -> dict[str, dict[str, Any]]:
    """Per market not yet settled: net ``position`` (+ YES, - NO), ``exposure`` (what the contracts
    cost) and ``fees``, from our fills. The paper broker's exposure and the recorded positions use it."""
    out: dict[str, dict[str, Any]] = {}
    for f in fills:
        if f["ticker"] in settled:
            continue
        p = out.setdefault(
            f["ticker"], {"ticker": f["ticker"], "position": ZERO, "exposure": ZERO, "fees": ZERO}
        )
        bought_yes = f["book_side"] == BookSide.BID
        p["position"] += f["count"] if bought_yes else -f["count"]
        p["exposure"] += f["count"] * (f["yes_price"] if bought_yes else ONE - f["yes_price"])
        p["fees"] += f["fee"]
    return out


def paper_positions(fills: list[Mapping[str, Any]], settled: set[str]) -> list[dict[str, Any]]:
    """The open positions worth recording: those not netted to zero."""
    return [p for p in open_positions(fills, settled).values() if p["position"] != 0]


@dataclass(frozen=True)
class Outcome:
    """How one market settled: ``yes`` or ``no``, the value it settled on, what the exchange paid us."""

    result: str
    expiration_value: Decimal | None
    exchange_revenue: Decimal | None = None


def settle_book(
    conn: sa.Connection, mode: str, event_ticker: str, outcomes: Mapping[str, Outcome]
) -> tuple[int, Decimal]:
    """Record the P&L of each of our positions in the event whose market has an outcome, once per market.

    The one settlement of fills, whoever determines the outcomes (the exchange, or TSA's first-published
    numbers for the paper book). Returns (positions newly settled, their P&L).
    """
    by_ticker: dict[str, list[Mapping[str, Any]]] = {}
    for f in store.fills_for_event(conn, event_ticker, mode):
        by_ticker.setdefault(f["ticker"], []).append(f)
    recorded, total = 0, ZERO
    for ticker, fills in by_ticker.items():
        outcome = outcomes.get(ticker)
        if outcome is None:
            continue
        figures = position_pnl(fills, outcome.result)
        row = {
            "mode": mode,
            "event_ticker": event_ticker,
            "ticker": ticker,
            "result": outcome.result,
            "expiration_value": outcome.expiration_value,
            "exchange_revenue": outcome.exchange_revenue,
            **figures,
        }
        if store.save_settlement(conn, row):
            recorded += 1
            total += figures["pnl"]
    return recorded, total
