"""The ``tsabot`` command. Works without Airflow; each DAG task calls the same functions.

Every command exits non-zero with a one-line reason on bad input. Areas add their own subcommands
through a ``register(subparsers)`` function in their ``commands`` module.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from tsa_bot.errors import TsaBotError

# Each module here exposes register(subparsers); a missing module just means that area is not built yet.
COMMAND_MODULES = (
    "tsa_bot.sources.commands",
    "tsa_bot.warehouse.commands",
    "tsa_bot.forecast.commands",
    "tsa_bot.kalshi.commands",
    "tsa_bot.local_commands",
    "tsa_bot.replay.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tsabot", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except TsaBotError as exc:
        print(f"tsabot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
