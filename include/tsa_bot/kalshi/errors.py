"""Typed Kalshi errors, and the parser for the three error-body shapes the API answers with."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tsa_bot.core.errors import ConfigurationError, TsaBotError


class KalshiError(TsaBotError):
    """Base of every Kalshi error. ``status`` and ``code`` are the exchange's, when it answered."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "", details: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details


class KalshiUnavailable(KalshiError):
    """The exchange could not be reached, or the connection dropped."""

    retryable = True


class KalshiServerError(KalshiError):
    """The exchange answered 5xx."""

    retryable = True


class KalshiRateLimited(KalshiError):
    """429: the token bucket is empty. Backing off helps."""

    retryable = True


class KalshiAuthError(KalshiError):
    """401/403: wrong key id, wrong signature, missing headers or clock skew."""


class KalshiNotFound(KalshiError):
    """404: unknown ticker, or an order that is unknown or already cancelled."""


class DuplicateOrder(KalshiError):
    """409 ``order_already_exists``: this ``client_order_id`` was used before (so the order landed)."""


class InsufficientBalance(KalshiError):
    """400 ``insufficient_balance``."""


class InvalidPrice(KalshiError):
    """400 ``invalid_price``: off the market's tick grid or outside (0, 1)."""


class KalshiRequestError(KalshiError):
    """Any other 4xx: the request itself is wrong and retrying it cannot help."""


class KalshiProtocolError(KalshiError):
    """The exchange answered something this client cannot read (missing field, not JSON)."""


class ProductionHostRefused(KalshiError):
    """A client not opted in to production was pointed at a production host."""


class UnknownHostRefused(ConfigurationError):
    """The API base names a host that is neither Kalshi's, loopback, nor a named simulator host."""


@dataclass(frozen=True)
class ErrorBody:
    code: str
    message: str
    details: str


def parse_error_body(text: str) -> ErrorBody:
    """Read any of the shapes Kalshi uses for errors.

    ``{"error": {"code", "message", "details"}}`` (most), ``{"code", "message", "details"}`` (JSON
    decode errors), ``{"msg": "..."}`` (parameter validation) and ``{"error": "too many requests"}`` (429).
    """
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return ErrorBody(code="", message=text.strip()[:200], details="")
    if not isinstance(data, dict):
        return ErrorBody(code="", message=str(data)[:200], details="")
    inner = data.get("error")
    if isinstance(inner, dict):
        data = inner
    elif isinstance(inner, str):
        return ErrorBody(code="", message=inner, details="")
    if "msg" in data and "code" not in data:
        return ErrorBody(code="", message=str(data["msg"]), details="")
    return ErrorBody(
        code=str(data.get("code") or ""),
        message=str(data.get("message") or ""),
        details=str(data.get("details") or ""),
    )


def error_for_status(status: int, body: ErrorBody, where: str) -> KalshiError:
    """The typed error for an HTTP error answer, with a one-line message."""
    text = body.code or body.message or f"HTTP {status}"
    extra = body.details or (body.message if body.message and body.message != text else "")
    message = f"Kalshi {where} answered {status} {text}" + (f" ({extra})" if extra else "")
    kwargs = {"status": status, "code": body.code, "details": body.details}
    if status in (401, 403):
        return KalshiAuthError(message, **kwargs)
    if status == 429:
        return KalshiRateLimited(message, **kwargs)
    if status == 404:
        return KalshiNotFound(message, **kwargs)
    if status == 409:
        return DuplicateOrder(message, **kwargs)
    if status >= 500:
        return KalshiServerError(message, **kwargs)
    if body.code == "insufficient_balance":
        return InsufficientBalance(message, **kwargs)
    if body.code == "invalid_price":
        return InvalidPrice(message, **kwargs)
    return KalshiRequestError(message, **kwargs)
