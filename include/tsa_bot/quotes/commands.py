"""``tsabot kalshi history``: download quote history into the warehouse, or import/export it as CSV.

``--score`` scores the stored history for the market's weight; that lives in the replay (above this
layer), which hands its handler to this parser when it registers (``tsa_bot.replay.commands``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tsa_bot.core.errors import ConfigurationError, date_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``history`` under ``tsabot kalshi`` (registered after it: kalshi sits below quotes)."""
    kalshi = subparsers.choices["kalshi"]
    (kalshi_subparsers,) = (a for a in kalshi._actions if isinstance(a, argparse._SubParsersAction))
    p = kalshi_subparsers.add_parser(
        "history",
        help="download a series' quote history into the warehouse; --import/--export the CSV format",
        description=(
            "Without --import/--export/--score: store the events, markets and candlesticks of the markets "
            "closing (New York date) from --start to --end. Resumable; running it twice adds nothing."
        ),
    )
    p.add_argument("--series", default="KXTSAW", help="series ticker (default KXTSAW)")
    p.add_argument(
        "--start",
        type=date_argument("--start"),
        metavar="DATE",
        help="first close date (export: first candle date)",
    )
    p.add_argument(
        "--end",
        type=date_argument("--end"),
        metavar="DATE",
        help="last close date (export: last candle date)",
    )
    p.add_argument("--period", type=int, choices=(60, 1440), default=60, help="candle minutes (default 60)")
    io = p.add_mutually_exclusive_group()
    io.add_argument("--import", dest="import_csv", type=Path, metavar="CSV", help="load a quote CSV")
    io.add_argument("--export", dest="export_csv", metavar="CSV", help="write a quote CSV ('-': stdout)")
    io.add_argument(
        "--score",
        action="store_true",
        help="score the stored history's settled weeks (model vs market, point in time) for the market's "
        "weight in blend/guarded; resumable, running it twice adds nothing",
    )
    p.add_argument("--read-rate", type=float, default=None, metavar="N", help="reads per second to Kalshi")
    p.add_argument("--warehouse-url", help="PostgreSQL URL (default: TSA_WAREHOUSE_URL, else embedded)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=history_command, score_handler=None)


def _engine(url: str | None):
    from tsa_bot.warehouse.engine import get_engine
    from tsa_bot.warehouse.migrate import migrate

    engine = get_engine(url)
    migrate(engine)
    return engine


def _emit(args: argparse.Namespace, data: dict, line: str) -> int:
    out = sys.stderr if args.export_csv == "-" else sys.stdout
    out.write((json.dumps(data, indent=2) if args.json else line) + "\n")
    return 0


def history_command(args: argparse.Namespace) -> int:
    if args.start and args.end and args.start > args.end:
        raise ConfigurationError(f"--start {args.start} is after --end {args.end}")
    if args.import_csv:
        return _import(args)
    if args.export_csv:
        return _export(args)
    if args.score:
        if args.start or args.end:
            raise ConfigurationError("--score scores every settled week not yet scored: drop --start/--end")
        if args.score_handler is None:
            raise ConfigurationError("--score needs the replay (tsa_bot.replay), which is not installed")
        return args.score_handler(args)
    return _download(args)


def _download(args: argparse.Namespace) -> int:
    from tsa_bot.kalshi.hosts import KalshiSettings, is_demo_host, is_production_host
    from tsa_bot.quotes.download import download_history, history_client
    from tsa_bot.quotes.pacing import check_read_rate

    if not (args.start and args.end):
        raise ConfigurationError("a download needs --start and --end (or use --import/--export)")
    settings = KalshiSettings.from_env()
    if args.read_rate is not None:
        production_or_demo = is_production_host(settings.api_base) or is_demo_host(settings.api_base)
        check_read_rate(args.read_rate, kalshi_host=production_or_demo)
    engine = _engine(args.warehouse_url)
    rate = {"read_rate": args.read_rate} if args.read_rate else {}
    with history_client(settings, **rate) as client:
        summary = download_history(
            client, engine, series=args.series, start=args.start, end=args.end, period=args.period
        )
    m, c = summary.markets, summary.candles
    return _emit(
        args,
        summary.as_json(),
        f"{args.series} {m.start} to {m.end}: {m.events} events, {m.markets} markets "
        f"({m.archived_markets} archived; {m.markets_new} new, {m.markets_changed} changed); "
        f"{c.period}-minute candles: {c.requests} requests, {c.candles_new} new, "
        f"{c.candles_changed} changed, "
        f"{c.markets_complete_before} markets already complete",
    )


def _import(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from tsa_bot.quotes.interchange import QuoteFormatError, open_quotes
    from tsa_bot.quotes.store import import_quotes

    name = args.import_csv.name
    with open_quotes(args.import_csv):  # missing, unreadable or too large: refused before the warehouse
        pass
    engine = _engine(args.warehouse_url)
    try:
        # Streamed into one transaction: a bad row anywhere rolls back everything before it.
        with open_quotes(args.import_csv) as rows, engine.begin() as conn:
            imported = import_quotes(conn, rows, args.period, name)
    except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        raise QuoteFormatError(f"{name}: the warehouse refused it, nothing imported: {first}") from None
    written = imported.written
    unchanged = imported.rows - written.new - written.changed
    return _emit(
        args,
        {"rows": imported.rows, "new": written.new, "changed": written.changed, "unchanged": unchanged},
        f"{name}: {imported.rows} rows as {args.period}-minute candles: "
        f"{written.new} new, {written.changed} changed, {unchanged} unchanged",
    )


def _export(args: argparse.Namespace) -> int:
    from tsa_bot.quotes.interchange import write_quotes, write_quotes_file
    from tsa_bot.quotes.store import read_history

    engine = _engine(args.warehouse_url)
    with engine.connect() as conn:
        rows = read_history(conn, period=args.period, series=args.series, start=args.start, end=args.end)
    if args.export_csv == "-":
        count = write_quotes(rows, sys.stdout)
    else:
        count = write_quotes_file(rows, Path(args.export_csv))
    return _emit(args, {"rows": count}, f"{args.export_csv}: {count} rows")
