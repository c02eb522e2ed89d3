"""Warehouse persistence for trading (tables from migration 0003_trading.sql). Postgres only.

By concern: :mod:`.runs` (the run, its snapshot and quotes), :mod:`.orders` (decisions, rejections, the
order ledger), :mod:`.fills` (fills, positions, settlements and P&L). Each function takes an open connection,
so that callers choose the transaction (``with engine.begin() as conn:``). Writes are idempotent: a retried
run updates, never duplicates. Callers use ``store.<function>``; the names below are the package's API.
"""

from tsa_bot.trading.store.fills import (
    FillRecord,
    fills_for_event,
    fills_for_mode,
    fills_for_run,
    realised_pnl_on,
    realised_pnl_total,
    save_fills,
    save_positions,
    save_settlement,
    settled_tickers,
)
from tsa_bot.trading.store.orders import (
    adopt_order,
    load_decisions,
    our_orders,
    record_intent,
    rejections_for_run,
    resting_orders,
    save_decision,
    save_order,
    save_rejection,
    set_filled,
    set_order_status,
)
from tsa_bot.trading.store.runs import (
    finish_run,
    get_run,
    latest_snapshot_run,
    load_quotes,
    load_snapshot,
    quotes_of_first_daily_runs,
    record_step,
    save_quotes,
    save_snapshot,
    snapshot_of_run,
    start_run,
)

__all__ = [
    "FillRecord",
    "adopt_order",
    "fills_for_event",
    "fills_for_mode",
    "fills_for_run",
    "finish_run",
    "get_run",
    "latest_snapshot_run",
    "load_decisions",
    "load_quotes",
    "load_snapshot",
    "our_orders",
    "quotes_of_first_daily_runs",
    "realised_pnl_on",
    "realised_pnl_total",
    "record_intent",
    "record_step",
    "rejections_for_run",
    "resting_orders",
    "save_decision",
    "save_fills",
    "save_order",
    "save_positions",
    "save_quotes",
    "save_rejection",
    "save_settlement",
    "save_snapshot",
    "set_filled",
    "set_order_status",
    "settled_tickers",
    "snapshot_of_run",
    "start_run",
]
