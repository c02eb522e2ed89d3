"""``tsabot simulator``: serve the local exchange in the foreground."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tsa_bot.core.errors import ConfigurationError, date_argument
from tsa_bot.kalshi_sim.faults import Fault, FaultSyntaxError, parse_fault

ADMIN_TOKEN_ENV = "TSABOT_SIM_ADMIN_TOKEN"
EVENT_TICKER = re.compile(r"KXTSAW-\d{2}[A-Z]{3}\d{2}")


def register(subparsers: argparse._SubParsersAction) -> None:
    add_simulator_arguments(
        subparsers.add_parser("simulator", help="serve the local Kalshi exchange simulator")
    )


def add_simulator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--event", help="a KXTSAW event to list, e.g. KXTSAW-26FEB15 (default: that one, without --seed-week)"
    )
    p.add_argument(
        "--seed-week",
        type=date_argument("--seed-week"),
        metavar="DATE",
        help="list the event of the week containing DATE: 21 strikes, 50,000 apart, priced by the crowd "
        "(its forecast of the week as of now; see --crowd-seed, --history-data), or around --seed-center",
    )
    p.add_argument(
        "--seed-center",
        type=int,
        metavar="PASSENGERS",
        help="instead of the crowd, a fixed logistic curve with this weekly mean priced at 0.50",
    )
    p.add_argument(
        "--history-start",
        type=date_argument("--history-start"),
        metavar="DATE",
        help="host the past weekly events whose Monday is from DATE (with --history-end), settled, "
        "with a crowd's quote history served as candlesticks",
    )
    p.add_argument(
        "--history-end", type=date_argument("--history-end"), metavar="DATE", help="... to DATE (inclusive)"
    )
    p.add_argument(
        "--history-data",
        type=Path,
        metavar="CSV",
        help="date,passengers truth the crowd sees (default: the TSA pages shipped with tsabot)",
    )
    p.add_argument(
        "--crowd-seed",
        "--history-seed",
        type=int,
        default=0,
        metavar="N",
        help="the crowd's random seed (default 0): the same seed draws the same quotes",
    )
    p.add_argument(
        "--historical-cutoff",
        type=date_argument("--historical-cutoff"),
        metavar="DATE",
        help="markets settled before this UTC date are served under /historical only "
        "(default: 90 days before the latest settlement)",
    )
    p.add_argument("--read-rate", type=float, default=20.0, help="reads per second per key")
    p.add_argument("--write-rate", type=float, default=10.0, help="writes per second per key")
    p.add_argument(
        "--key-id",
        action="append",
        default=[],
        help="register this key id at start (repeatable, with --public-key)",
    )
    p.add_argument(
        "--public-key",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="PEM public key of the --key-id in the same position (repeatable)",
    )
    p.add_argument("--balance", default="1000", help="starting balance of each registered key, dollars")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault,
        metavar="KIND[:OPTIONS]",
        help=(
            "misbehave on purpose (repeatable). KIND: latency, 429, 500 (before doing anything), "
            "500_after or drop_after (after doing the request: the answer is an error, or lost); "
            "OPTIONS, comma-separated: method=GET|POST|DELETE, path=/prefix under /trade-api/v2, "
            "times=N (the next N matching requests; default: for good), rate=P (each with probability P), "
            "ms=N (latency only). E.g. 'latency:ms=150', "
            "'drop_after:method=POST,path=/portfolio/events/orders,times=1', "
            "'500:method=GET,path=/portfolio/orders,rate=0.5', '429:rate=0.1'"
        ),
    )
    p.add_argument(
        "--admin-token",
        default=os.environ.get(ADMIN_TOKEN_ENV) or None,
        help=(
            f"the bearer token the /sim/ admin endpoints require (default ${ADMIN_TOKEN_ENV}, preferred: "
            "a command line is visible to other users); without one, admin endpoints are off"
        ),
    )
    p.set_defaults(handler=serve)


def _fault(text: str) -> Fault:
    try:
        return parse_fault(text)
    except FaultSyntaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _balance(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigurationError(f"--balance must be a number, got '{text}'") from None
    if not value.is_finite() or value <= 0:
        raise ConfigurationError(f"--balance must be positive dollars, got '{text}'")
    return value


def _check(args: argparse.Namespace) -> None:
    """Refuse what the exchange could not serve, in one line, before listening anywhere."""
    if not 0 <= args.port <= 65535:
        raise ConfigurationError(f"--port must be 0 to 65535 (0: any free port), got {args.port}")
    if args.event is not None:
        _check_event(args.event)
    for name, rate in (("--read-rate", args.read_rate), ("--write-rate", args.write_rate)):
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigurationError(f"{name} must be a positive number of requests per second, got {rate}")
    if args.seed_week is not None and not 2000 <= args.seed_week.year <= 2098:
        raise ConfigurationError(f"--seed-week must be in 2000 to 2098, got {args.seed_week}")
    if args.seed_center is not None and args.seed_center <= 0:
        raise ConfigurationError(
            f"--seed-center must be a positive number of passengers, got {args.seed_center}"
        )
    if len(args.key_id) != len(args.public_key):
        raise ConfigurationError("each --key-id needs its --public-key (give them in pairs)")


def _check_event(ticker: str) -> None:
    from tsa_bot.core.market import event_sunday

    try:
        if not EVENT_TICKER.fullmatch(ticker):
            raise ValueError(ticker)
        sunday = event_sunday(ticker)
    except (KeyError, ValueError):
        raise ConfigurationError(
            "--event must be a KXTSAW event ticker naming a week's Sunday, e.g. KXTSAW-26FEB15, "
            f"got '{ticker}'"
        ) from None
    if sunday.weekday() != 6:
        raise ConfigurationError(
            f"--event {ticker} names a {sunday:%A}; a KXTSAW event is named for its week's Sunday"
        )


def _history(args: argparse.Namespace):
    """The ``HistorySeed`` the --history-* arguments describe, or None."""
    from tsa_bot.kalshi_sim.history import HistorySeed, truth_from_csv

    if (args.history_start is None) != (args.history_end is None):
        raise ConfigurationError("--history-start and --history-end go together")
    if args.history_start is None:
        return None
    if args.history_start > args.history_end:
        raise ConfigurationError("--history-start is after --history-end")
    if args.history_start.year < 2000 or args.history_end.year > 2098:
        raise ConfigurationError("--history-start/--history-end must be in 2000 to 2098")
    truth = truth_from_csv(args.history_data) if args.history_data else None
    return HistorySeed(args.history_start, args.history_end, truth=truth, seed=args.crowd_seed)


def _crowd_week(args: argparse.Namespace):
    """--seed-week's event, priced by the crowd where it stands now."""
    import time as clock

    from tsa_bot.kalshi_sim.history import truth_from_csv
    from tsa_bot.kalshi_sim.seed import EventSeed

    truth = truth_from_csv(args.history_data) if args.history_data else None
    try:
        return EventSeed.from_crowd(args.seed_week, clock.time(), truth, seed=args.crowd_seed)
    except (KeyError, ValueError) as exc:
        raise ConfigurationError(
            f"the crowd cannot price the week of {args.seed_week}: {exc}; give --seed-center instead"
        ) from None


def serve(args: argparse.Namespace) -> int:
    """Build the exchange the arguments describe and serve it until Ctrl-C."""
    from tsa_bot.kalshi_sim.exchange import Exchange
    from tsa_bot.kalshi_sim.seed import EventSeed
    from tsa_bot.kalshi_sim.server import bind, make_server

    _check(args)
    balance = _balance(args.balance)
    keys = []
    for key_id, path in zip(args.key_id, args.public_key, strict=True):
        try:
            keys.append((key_id, path.read_bytes()))
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
    history = _history(args)
    seeds = []
    if args.event or not (args.seed_week or history):
        seeds.append(EventSeed(event_ticker=args.event or EventSeed.event_ticker))
    if args.seed_week and args.seed_center is not None:
        seeds.append(EventSeed.for_week(args.seed_week, args.seed_center))
    elif args.seed_week:
        seeds.append(_crowd_week(args))
    cutoff = None
    if args.historical_cutoff:
        cutoff = datetime.combine(args.historical_cutoff, time(0), UTC).timestamp()
    try:
        exchange = Exchange(
            seeds[0] if seeds else None,
            read_rate=args.read_rate,
            write_rate=args.write_rate,
            history=history,
            cutoff=cutoff,
        )
    except ValueError as exc:  # a hosted week without data
        raise ConfigurationError(f"{exc}; the data ends earlier (see --history-data)") from None
    for seed in seeds[1:]:
        exchange.seed_event(seed)
    for fault in args.fault:
        exchange.faults.add(fault)
    for key_id, pem in keys:
        try:
            exchange.register_key(key_id, pem, balance)
        except ValueError as exc:
            raise ConfigurationError(f"bad public key for {key_id}: {exc}") from None
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    tickers = list(exchange.events)
    events = (
        ", ".join(tickers) if len(tickers) <= 3 else f"{tickers[0]} ... {tickers[-1]}, {len(tickers)} events"
    )
    print(f"Kalshi simulator on {base}/trade-api/v2 (event {events}); admin under {base}/sim/. Ctrl-C stops.")
    sys.stdout.flush()
    try:
        make_server(exchange, args.admin_token).run(sockets=[sock])
    finally:
        sock.close()
    return 0
