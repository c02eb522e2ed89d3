"""Typed errors with one-line, actionable messages.

`retryable` tells the orchestrator whether a retry can help: a timeout can, a changed page layout cannot
(:func:`is_retryable` answers it for any exception). Messages are one line; :func:`one_line` makes any
exception's message fit where a message is shown (an alert, the terminal), never a page's content.
"""

from collections.abc import Callable
from datetime import date

MAX_MESSAGE = 300  # characters of an error shown in one line: an alert or a terminal, never a page


def one_line(error: BaseException, limit: int = MAX_MESSAGE) -> str:
    """The first line of an error's message, cut to ``limit`` characters: what alerts and the CLI show."""
    lines = str(error).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TsaBotError(Exception):
    """Base of every error the bot raises on purpose."""

    retryable = False


class SourceUnavailable(TsaBotError):
    """The TSA site could not be reached or answered with a server error."""

    retryable = True


class SourceRejected(TsaBotError):
    """The TSA site answered with a client error (blocked, moved, not found)."""


class PageLayoutError(TsaBotError):
    """A page has no table the parser recognises, or a cell it cannot read."""


class ValidationError(TsaBotError):
    """A batch of daily numbers failed validation; nothing from it was loaded."""


class WarehouseUnavailable(TsaBotError):
    """The warehouse could not be reached, or the connection dropped mid-transaction."""

    retryable = True


class WarehouseReadOnly(TsaBotError):
    """The warehouse role may not write (missing privileges or a read-only role): a retry cannot help."""


class WarehouseRejected(TsaBotError):
    """The warehouse refused a statement or its data (a NUL byte, a broken constraint); nothing written."""


class ConfigurationError(TsaBotError):
    """A setting is missing or contradictory."""


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt can succeed: a timeout, a refused or dropped connection, a busy server.

    The bot's own errors say so themselves; of anything else only transport and connection failures
    count (a bug, bad data or a refused statement fails the same way every time).
    """
    if isinstance(error, TsaBotError):
        return error.retryable
    if isinstance(error, TimeoutError | ConnectionError):
        return True
    import httpx
    import psycopg
    import sqlalchemy as sa

    if isinstance(error, httpx.UnsupportedProtocol):
        return False
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(
        error,
        httpx.TransportError
        | psycopg.OperationalError
        | sa.exc.OperationalError
        | sa.exc.InterfaceError
        | sa.exc.DisconnectionError
        | sa.exc.TimeoutError,
    )


def parse_date(value: object, name: str) -> date:
    """``value`` as an ISO date (a date passes as it is), else a one-line ``ValidationError`` naming it."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{name} is not a date (YYYY-MM-DD): {value!r}") from None


def date_argument(option: str) -> Callable[[str], date]:
    """An argparse ``type`` for ``option``: :func:`parse_date`, so a bad date on the command line is the same
    one-line ``ValidationError`` as anywhere else (``tsabot: error: --start is not a date ...``, exit 2)."""

    def parse(text: str) -> date:
        return parse_date(text, option)

    return parse


def optional_date_range(start: object, end: object) -> tuple[date, date] | None:
    """A run's ``start`` and ``end`` params: None when both are empty, else both dates, in order."""
    if not start and not end:
        return None
    if not (start and end):
        raise ValidationError("start and end go together (both dates, or both empty)")
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if first > last:
        raise ValidationError(f"start {first} is after end {last}")
    return first, last
