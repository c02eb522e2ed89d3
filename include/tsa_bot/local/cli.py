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

from tsa_bot.core.errors import TsaBotError, one_line

# Each module here exposes register(subparsers); a missing module just means that area is not built yet.
COMMAND_MODULES = (
    "tsa_bot.sources.commands",
    "tsa_bot.warehouse.commands",
    "tsa_bot.forecast.commands",
    "tsa_bot.kalshi.commands",
    "tsa_bot.quotes.commands",  # adds `kalshi history`, so after tsa_bot.kalshi.commands
    "tsa_bot.kalshi_sim.commands",
    "tsa_bot.local.commands",
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
    """Run one command. Exit codes: 0 done, 2 a one-line error (bad input or an unreachable service),
    1 a bug (one line too; ``-v`` shows its traceback), 130 interrupted."""
    verbose = False
    try:
        args = build_parser().parse_args(argv)
        verbose = args.verbose
        logging.basicConfig(
            level=logging.INFO if verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        return int(args.handler(args) or 0)
    except TsaBotError as exc:
        print(f"tsabot: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug: still no traceback unless asked for
        if verbose:
            logging.getLogger("tsa_bot").exception("internal error")
        print(
            f"tsabot: internal error: {type(exc).__name__}: {one_line(exc)} (a bug; -v shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
