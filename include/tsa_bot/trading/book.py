"""The book of fills: positions, exposure and P&L computed from our fills, one way for every caller."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tsa_bot.market import ONE, ZERO, BookSide


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


def paper_positions(fills: list[Mapping[str, Any]], settled: set[str]) -> list[dict[str, Any]]:
    """Open positions from paper fills (markets not yet settled): ``ticker, position, exposure, fees``."""
    out: dict[str, dict[str, Any]] = {}
    for f in fills:
        if f["ticker"] in settled:
            continue
        p = out.setdefault(
            f["ticker"], {"ticker": f["ticker"], "position": ZERO, "exposure": ZERO, "fees": ZERO}
        )
        bought_yes = f["book_side"] == BookSide.BID
        p["position"] += f["count"] if bought_yes else -f["count"]
        p["exposure"] += f["count"] * (f["yes_price"] if bought_yes else 1 - f["yes_price"])
        p["fees"] += f["fee"]
    return [p for p in out.values() if p["position"] != 0]
