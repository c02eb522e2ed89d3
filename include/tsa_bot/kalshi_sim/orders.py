"""Order requests (create, amend, decrease), checked as Kalshi checks them before anything reaches the book.

A create's wire field ``side`` (``bid`` | ``ask`` on the YES book) is read into ``book_side``. An amend
speaks the older vocabulary (``side: yes|no``, ``action: buy|sell``, a YES or a NO price); it is read onto
the YES book too: buy YES and sell NO are bids, sell YES and buy NO are asks, and a NO price ``q`` is the
YES price ``1 - q``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tsa_bot.kalshi_sim.errors import decode_error, validation_error


def validate_order(body: Any) -> dict[str, Any]:
    """A ``POST /portfolio/events/orders`` body checked as Kalshi checks it, with its decimals read."""
    if not isinstance(body, dict):
        raise decode_error("request body must be a JSON object")
    for name in ("count", "price"):
        if name in body and not isinstance(body[name], str):
            raise decode_error(
                f"json: cannot unmarshal {type(body[name]).__name__} into field {name} of type string"
            )
    for name in ("ticker", "client_order_id", "side", "count", "price"):
        if not body.get(name):
            raise validation_error(
                f"Key: 'CreateOrderV2Request.{name}' Error:Field validation for '{name}' failed"
            )
    if body["side"] not in ("bid", "ask"):
        raise validation_error("side must be one of bid ask")
    tif = body.get("time_in_force", "good_till_canceled")
    if tif not in ("good_till_canceled", "immediate_or_cancel", "fill_or_kill"):
        raise validation_error(
            "time_in_force must be one of good_till_canceled immediate_or_cancel fill_or_kill"
        )
    expiration = body.get("expiration_time")
    if expiration is not None and tif != "good_till_canceled":
        raise validation_error("expiration_time is allowed only with good_till_canceled")
    if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, int)):
        raise decode_error(
            f"json: cannot unmarshal {type(expiration).__name__} into field expiration_time of type int64"
        )
    try:
        price = Decimal(body["price"])
        count = Decimal(body["count"])
    except InvalidOperation:
        raise decode_error("price and count must be decimal strings") from None
    if count <= 0 or count != count.quantize(Decimal("0.01")):
        raise validation_error("count must be positive with at most 2 decimals")
    return {
        "ticker": str(body["ticker"]),
        "client_order_id": str(body["client_order_id"]),
        "book_side": body["side"],
        "count": count,
        "price": price,
        "time_in_force": tif,
        "post_only": bool(body.get("post_only", False)),
        "expiration_time": expiration,
    }


BOOK_SIDES = {  # (side, action) of an amend -> the side of the YES book
    ("yes", "buy"): "bid",
    ("no", "sell"): "bid",
    ("yes", "sell"): "ask",
    ("no", "buy"): "ask",
}
PRICE_FIELDS = ("yes_price", "no_price", "yes_price_dollars", "no_price_dollars")


def validate_amend(body: Any) -> dict[str, Any]:
    """A ``POST /portfolio/orders/{id}/amend`` body (``AmendOrderRequest``), read onto the YES book.

    ``count`` is ``None`` when neither ``count`` nor ``count_fp`` is given (the size stays as it is).
    """
    if not isinstance(body, dict):
        raise decode_error("request body must be a JSON object")
    for name in ("ticker", "side", "action", "client_order_id", "updated_client_order_id"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise validation_error(
                f"Key: 'AmendOrderRequest.{name}' Error:Field validation for '{name}' failed"
            )
    book_side = BOOK_SIDES.get((body["side"], body["action"]))
    if book_side is None:
        raise validation_error("side must be one of yes no, action one of buy sell")
    given = [name for name in PRICE_FIELDS if body.get(name) is not None]
    if len(given) != 1:
        raise validation_error("exactly one of yes_price, no_price, yes_price_dollars, no_price_dollars")
    name = given[0]
    if name.endswith("_dollars"):
        price = _decimal_string(body, name)
    else:
        cents = _whole(body, name, minimum=1)
        if cents > 99:
            raise validation_error(f"{name} must be between 1 and 99")
        price = Decimal(cents) / 100
    if name.startswith("no_"):
        price = 1 - price
    return {
        "ticker": body["ticker"],
        "book_side": book_side,
        "price": price,
        "count": _count(body, "count", minimum=1),
        "client_order_id": body["client_order_id"],
        "updated_client_order_id": body["updated_client_order_id"],
    }


def validate_decrease(body: Any) -> tuple[str, Decimal]:
    """A ``POST /portfolio/orders/{id}/decrease`` body: ``("by" | "to", contracts)``."""
    if not isinstance(body, dict):
        raise decode_error("request body must be a JSON object")
    by = _count(body, "reduce_by", minimum=1)
    to = _count(body, "reduce_to", minimum=0)
    if (by is None) == (to is None):
        raise validation_error("exactly one of reduce_by(/reduce_by_fp) or reduce_to(/reduce_to_fp)")
    if by is not None:
        return "by", by
    return "to", to or Decimal(0)


def _count(body: dict[str, Any], name: str, *, minimum: int) -> Decimal | None:
    """``name`` (whole contracts) and ``name_fp`` (a decimal string): either, or both if they agree."""
    whole = Decimal(_whole(body, name, minimum=minimum)) if body.get(name) is not None else None
    fp = _decimal_string(body, f"{name}_fp") if body.get(f"{name}_fp") is not None else None
    if fp is not None and (fp < minimum or fp != fp.quantize(Decimal("0.01"))):
        raise validation_error(f"{name}_fp must be at least {minimum} with at most 2 decimals")
    if whole is not None and fp is not None and whole != fp:
        raise validation_error(f"{name} and {name}_fp disagree")
    return whole if whole is not None else fp


def _whole(body: dict[str, Any], name: str, *, minimum: int) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise decode_error(f"json: cannot unmarshal {type(value).__name__} into field {name} of type int")
    if value < minimum:
        raise validation_error(f"{name} must be at least {minimum}")
    return value


def _decimal_string(body: dict[str, Any], name: str) -> Decimal:
    value = body[name]
    if not isinstance(value, str):
        raise decode_error(f"json: cannot unmarshal {type(value).__name__} into field {name} of type string")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise decode_error(f"{name} must be a decimal string") from None
    if not parsed.is_finite():
        raise decode_error(f"{name} must be a decimal string")
    return parsed
