"""``tsabot warehouse status|stop``."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    warehouse = subparsers.add_parser("warehouse", help="where the data lands; stop the embedded server")
    actions = warehouse.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="the warehouse in use and what it holds")
    status.add_argument("--warehouse-url", help="PostgreSQL URL (default: TSA_WAREHOUSE_URL, else embedded)")
    status.set_defaults(handler=status_command)
    stop = actions.add_parser("stop", help="stop the embedded PostgreSQL (its data stays)")
    stop.set_defaults(handler=stop_command)


def status_command(args: argparse.Namespace) -> int:
    from tsa_bot.warehouse.engine import describe, get_engine, resolve_url
    from tsa_bot.warehouse.migrate import migrate
    from tsa_bot.warehouse.tsa_daily import warehouse_status

    url = resolve_url(args.warehouse_url)
    engine = get_engine(url)
    migrate(engine)
    status = warehouse_status(engine)
    print(f"warehouse: {describe(url)}")
    print(
        f"tsa_daily: {status.days:,} days, {status.first_date} to {status.newest_date}; "
        f"revisions on record: {status.revisions}"
    )
    return 0


def stop_command(args: argparse.Namespace) -> int:
    from tsa_bot.core.config import get_settings
    from tsa_bot.warehouse.engine import stop_embedded

    state_dir = get_settings().state_dir
    print(
        "stopped the embedded warehouse"
        if stop_embedded(state_dir)
        else f"no embedded warehouse runs in {state_dir}"
    )
    return 0
