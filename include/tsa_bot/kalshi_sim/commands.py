"""``tsabot simulator`` (also ``tsabot kalshi simulator``): serve the local exchange in the foreground."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tsa_bot.errors import ConfigurationError


def add_simulator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--event", help="a KXTSAW event to list, e.g. KXTSAW-26FEB15 (default: that one, without --seed-week)"
    )
    p.add_argument(
        "--seed-week",
        type=_iso_date,
        metavar="DATE",
        help="list the event of the week containing DATE: 21 strikes, 50,000 apart, around --seed-center",
    )
    p.add_argument(
        "--seed-center",
        type=int,
        default=2_300_000,
        metavar="PASSENGERS",
        help="the weekly mean priced at 0.50 in --seed-week's event (default 2300000)",
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
    p.set_defaults(handler=serve)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): '{text}'") from None


def _balance(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigurationError(f"--balance must be a number, got '{text}'") from None
    if not value.is_finite() or value <= 0:
        raise ConfigurationError(f"--balance must be positive, got '{text}'")
    return value


def serve(args: argparse.Namespace) -> int:
    """Build the exchange the arguments describe and serve it until Ctrl-C."""
    from tsa_bot.kalshi_sim.exchange import Exchange
    from tsa_bot.kalshi_sim.seed import EventSeed
    from tsa_bot.kalshi_sim.server import bind, make_server

    if len(args.key_id) != len(args.public_key):
        raise ConfigurationError("each --key-id needs its --public-key (give them in pairs)")
    if args.seed_center <= 0:
        raise ConfigurationError(
            f"--seed-center must be a positive number of passengers, got {args.seed_center}"
        )
    balance = _balance(args.balance)
    keys = []
    for key_id, path in zip(args.key_id, args.public_key, strict=True):
        try:
            keys.append((key_id, path.read_bytes()))
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
    seeds = []
    if args.event or not args.seed_week:
        seeds.append(EventSeed(event_ticker=args.event or EventSeed.event_ticker))
    if args.seed_week:
        seeds.append(EventSeed.for_week(args.seed_week, args.seed_center))
    exchange = Exchange(seeds[0], read_rate=args.read_rate, write_rate=args.write_rate)
    for seed in seeds[1:]:
        exchange.seed_event(seed)
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
    events = ", ".join(s.event_ticker for s in seeds)
    print(f"Kalshi simulator on {base}/trade-api/v2 (event {events}); admin under {base}/sim/. Ctrl-C stops.")
    sys.stdout.flush()
    try:
        make_server(exchange).run(sockets=[sock])
    finally:
        sock.close()
    return 0
