"""What the exchange shows of its markets: a market as ``GET /markets`` lists it, and its order book."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from tsa_bot.core.market import ONE, ZERO, BookSide
from tsa_bot.kalshi.models import count_str, price_str
from tsa_bot.kalshi_sim.state import Account, SimMarket, SimOrder, SimPosition, iso_time


def market_json(m: SimMarket, accounts: Iterable[Account], now: float = float("inf")) -> dict[str, Any]:
    """A market as ``GET /markets`` shows it at ``now``: its best quotes (an empty side as a YES bid of 0 or
    ask of 1, as Kalshi shows it) with the crowd's trading up to ``now`` folded in."""
    bid, ask = m.best(BookSide.BID), m.best(BookSide.ASK)
    open_interest = sum(
        (max(a.positions.get(m.ticker, SimPosition()).position, ZERO) for a in accounts),
        ZERO,
    )
    volume, last_price = m.volume, m.last_price
    done = int(np.searchsorted(m.tape.trade_ts, now, side="right")) if m.tape is not None else 0
    if m.tape is not None and done:
        volume += Decimal(int(m.tape.trade_size[:done].sum()))
        open_interest += Decimal(int(m.tape.open_interest[done - 1]))
        if last_price is None:
            last_price = Decimal(int(m.tape.trade_price[done - 1])) / 100
    strike_m = Decimal(m.floor_strike) / 1_000_000
    settled = {}
    if m.settled_ts is not None:
        settled = {
            "settlement_ts": iso_time(m.settled_ts),
            "settlement_value_dollars": "1.0000" if m.result == "yes" else "0.0000",
        }
    return {
        "ticker": m.ticker,
        "event_ticker": m.event_ticker,
        "market_type": "binary",
        "title": f"TSA check-ins above {strike_m:.2f}M this week?",
        "yes_sub_title": f"Above {strike_m:.2f}M",
        "no_sub_title": f"{strike_m:.2f}M or below",
        "created_time": iso_time(m.created),
        "updated_time": iso_time(m.settled_ts or m.created),
        "status": m.status,
        "open_time": iso_time(m.open_time),
        "close_time": iso_time(m.close_time),
        "latest_expiration_time": iso_time(m.close_time + 8 * 86400),
        "settlement_timer_seconds": 0,
        "notional_value_dollars": "1.0000",
        "yes_bid_dollars": price_str(bid.price) if bid else "0.0000",
        "yes_ask_dollars": price_str(ask.price) if ask else "1.0000",
        "no_bid_dollars": price_str(ONE - ask.price) if ask else "0.0000",
        "no_ask_dollars": price_str(ONE - bid.price) if bid else "1.0000",
        "yes_bid_size_fp": count_str(sum((o.remaining for o in m.bids if o.price == bid.price), ZERO))
        if bid
        else "0.00",
        "yes_ask_size_fp": count_str(sum((o.remaining for o in m.asks if o.price == ask.price), ZERO))
        if ask
        else "0.00",
        "last_price_dollars": price_str(last_price) if last_price is not None else "0.0000",
        "previous_yes_bid_dollars": "0.0000",
        "previous_yes_ask_dollars": "0.0000",
        "previous_price_dollars": "0.0000",
        "volume_fp": count_str(volume),
        "volume_24h_fp": "0.00",
        "liquidity_dollars": "0.0000",
        "open_interest_fp": count_str(open_interest),
        "strike_type": "greater",
        "floor_strike": m.floor_strike,
        "result": m.result,
        "can_close_early": False,
        "fractional_trading_enabled": False,
        "expiration_value": m.expiration_value,
        **settled,
        "rules_primary": (
            f"If the average of daily TSA checkpoint numbers for the week is above {m.floor_strike:,}, "
            "the market resolves to Yes."
        ),
        "rules_secondary": "Numbers as first published on tsa.gov/travel/passenger-volumes.",
        "price_level_structure": "linear_cent",
        "price_ranges": [
            {"start": price_str(r.start), "end": price_str(r.end), "step": price_str(r.step)}
            for r in m.price_ranges
        ],
    }


def orderbook_json(m: SimMarket, depth: int | None) -> dict[str, Any]:
    """``GET /markets/{ticker}/orderbook``: YES bids, and the YES asks shown as NO bids at ``1 - price``."""

    def levels(orders: list[SimOrder], flip: bool) -> list[list[str]]:
        agg: dict[Decimal, Decimal] = {}
        for o in orders:
            price = ONE - o.price if flip else o.price
            agg[price] = agg.get(price, ZERO) + o.remaining
        best_first = sorted(agg.items(), key=lambda kv: -kv[0])[: depth or None]
        # Worst to best, as recorded data has shown: clients must sort.
        return [[price_str(p), count_str(c)] for p, c in reversed(best_first)]

    return {"orderbook_fp": {"yes_dollars": levels(m.bids, False), "no_dollars": levels(m.asks, True)}}
