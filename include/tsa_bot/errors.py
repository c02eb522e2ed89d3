"""Typed errors with one-line, actionable messages.

`retryable` tells the orchestrator whether a retry can help: a timeout can, a changed page layout cannot.
"""

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
