"""``tsabot parse-tsa`` and ``tsabot ingest``."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from tsa_bot.core.errors import ConfigurationError


def register(subparsers: argparse._SubParsersAction) -> None:
    parse = subparsers.add_parser(
        "parse-tsa", help="print date,passengers CSV from a saved TSA page, checked as a load checks it"
    )
    parse.add_argument("file", type=Path, help="a saved tsa.gov passenger-volumes page (current or year)")
    parse.add_argument(
        "--raw",
        action="store_true",
        help="print the rows as the page has them, without the checks a load makes (dates, ranges, jumps)",
    )
    parse.set_defaults(handler=parse_tsa_command)

    ingest = subparsers.add_parser("ingest", help="scrape TSA and load the numbers into the warehouse")
    ingest.add_argument("--offline", action="store_true", help="serve the shipped TSA page set locally")
    ingest.add_argument("--full-history", action="store_true", help="re-fetch every year page since 2019")
    ingest.add_argument("--base-url", help="fetch from this site instead of https://www.tsa.gov")
    ingest.add_argument("--warehouse-url", help="PostgreSQL URL (default: TSA_WAREHOUSE_URL, else embedded)")
    ingest.set_defaults(handler=ingest_command)


def parse_tsa_command(args: argparse.Namespace) -> int:
    from tsa_bot.sources.ingest import today_in_new_york
    from tsa_bot.sources.tsa_page import parse_page
    from tsa_bot.sources.validate import validate_batch

    if not args.file.is_file():
        raise ConfigurationError(f"no such file: {args.file}")
    try:
        html = args.file.read_text(errors="replace")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {args.file}: {exc.strerror}") from None
    rows = parse_page(html, source=str(args.file))
    if not args.raw:  # what `load` would store, or the one line saying why it would not
        rows = validate_batch(rows, today_in_new_york())
    out = sys.stdout
    out.write("date,passengers\n")
    for row in rows:
        out.write(f"{row.day.isoformat()},{row.passengers}\n")
    return 0


def ingest_command(args: argparse.Namespace) -> int:
    from tsa_bot.core.config import check_http_url
    from tsa_bot.sources.ingest import fetch_tsa, load_tsa
    from tsa_bot.warehouse.engine import describe, get_engine, resolve_url
    from tsa_bot.warehouse.tsa_daily import warehouse_status

    if args.offline and args.base_url:
        raise ConfigurationError("--offline and --base-url contradict each other; pick one")
    if args.base_url is not None:
        check_http_url(args.base_url, "--base-url")
    url = resolve_url(args.warehouse_url)
    fetched = fetch_tsa(
        offline=args.offline, full_history=args.full_history, base_url=args.base_url, warehouse_url=url
    )
    loaded = load_tsa(fetched["page_ids"], run_key=f"cli:{uuid.uuid4()}", warehouse_url=url)
    status = warehouse_status(get_engine(url))
    print(
        f"Loaded {loaded['rows_seen']:,} rows from {len(loaded['pages'])} pages: "
        f"{loaded['rows_new']:,} new, {loaded['rows_revised']:,} revised, "
        f"{loaded['rows_unchanged']:,} unchanged."
    )
    print(
        f"Newest date: {loaded['newest_date']}. Revisions seen: {loaded['rows_revised']} in this run, "
        f"{status.revisions} on record."
    )
    if loaded["missing_dates"]:
        print(f"Missing days: {', '.join(loaded['missing_dates'][:10])}")
    print(
        f"Warehouse: {describe(url)} holds {status.days:,} days, {status.first_date} to {status.newest_date} "
        f"(ingest run {loaded['ingest_run_id']})."
    )
    return 0
