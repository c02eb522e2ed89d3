"""Typed errors with one-line, actionable messages.

`retryable` tells the orchestrator whether a retry can help: a timeout can, a changed page layout cannot.
"""


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


class ConfigurationError(TsaBotError):
    """A setting is missing or contradictory."""
