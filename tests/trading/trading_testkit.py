"""Constants and helpers shared by the trading tests (a plain module: conftest names are not importable)."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from tsa_bot.kalshi.client import KalshiClient, RetryPolicy
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.kalshi.simulator import EventSeed
from tsa_bot.trading import store
from tsa_bot.trading.decide import Decision, client_order_id

KEY_ID = "5b2e7c44-1d3a-4f6b-8c9d-7e1f2a3b4c5d"
FAST_RETRY = RetryPolicy(attempts=6, backoff_s=0.005, max_backoff_s=0.02, budget_s=5.0)

# The trading tests' event: five strikes around 2.30 M, two levels a side, 10 contracts each.
EVENT = "KXTSAW-26FEB15"
T225, T235 = f"{EVENT}-A2.25", f"{EVENT}-A2.35"
SEED = EventSeed(
    event_ticker=EVENT,
    strikes=(2_200_000, 2_250_000, 2_300_000, 2_350_000, 2_400_000),
    mids={
        2_200_000: Decimal("0.90"),
        2_250_000: Decimal("0.70"),
        2_300_000: Decimal("0.50"),
        2_350_000: Decimal("0.30"),
        2_400_000: Decimal("0.15"),
    },
    half_spread=Decimal("0.02"),
    levels=2,
    depth=Decimal(10),
)


def rest_order_of_earlier_run(
    engine: sa.Engine, client: KalshiClient, run_id: str, event: str, ticker: str, strike: int
) -> str:
    """Place a YES bid, 5 @ 0.40, and record it resting under demo run ``run_id``: a later run's stale order.

    Returns its client order id.
    """
    coid = client_order_id(run_id, ticker, "yes")
    size, price = Decimal(5), Decimal("0.40")
    placed = client.create_order(OrderRequest(ticker, coid, "bid", size, price))
    decision = Decision(
        event, ticker, strike, None, None, "buy_yes", size, price, None, None, None, coid, "x"
    )
    with engine.begin() as conn:
        store.start_run(conn, run_id, "demo", event, "127.0.0.1", {})
        store.save_order(
            conn,
            run_id=run_id,
            decision_id=None,
            mode="demo",
            d=decision,
            book_side="bid",
            yes_price=price,
            order_id=placed.order_id,
            status="resting",
            filled=Decimal(0),
            already_existed=False,
        )
    return coid
